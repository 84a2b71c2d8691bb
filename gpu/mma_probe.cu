// Hopper tensor-core probe: runs mma.sync (bf16, e4m3, e5m2), wgmma (e4m3, bf16) and an
// SFP4 x NVFP4 GEMM (the Hopper pipeline of src/emu/sfp4.rs) on random inputs and writes
// every output as a case line (vectors/mma/README.md) for `gridgames mma --cases`.
//
// Build: nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o mma_probe mma_probe.cu
// Run:   ./mma_probe OUTDIR [tiles] [seed]
//
// Fragment layouts are the PTX ISA's (mma.sync m16n8k16 .bf16, m16n8k32 .e4m3/.e5m2, wgmma
// m64nNk32 / m64nNk16 with both operands K-major in shared memory, no swizzle). Each kernel
// is first run on small integers, whose exact sums every model agrees on, to check the
// layout; a failing layout is reported and its case file is not written.
#include <cuda_runtime.h>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <string>
#include <vector>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
  fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); exit(1); } } while (0)

// ------------------------------------------------------------------------------------------
// RNG (splitmix64), host only.
static uint64_t g_state = 1;
// The seed given on the command line; g_state advances, so headers print this, not g_state
// (earlier probe runs printed the generator state at the time of writing as "seed").
static uint64_t g_seed = 1;
static uint64_t rnd() {
  uint64_t z = (g_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint32_t rint_(uint32_t n) { return (uint32_t)(rnd() % n); }
static double runif() { return (rnd() >> 11) * (1.0 / 9007199254740992.0); }

// ------------------------------------------------------------------------------------------
// Kernels.

// mma.sync m16n8k16 bf16: one warp per tile. A: [tile][16][16] bf16 row-major; B: [tile][8][16]
// (column n holds its K values contiguously: the .col operand); C, D: [tile][16][8] f32.
__global__ void k_mma_bf16(const uint16_t* A, const uint16_t* B, const float* C, float* D, int tiles) {
  int tile = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (tile >= tiles) return;
  int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const uint16_t* a = A + (size_t)tile * 16 * 16;
  const uint16_t* b = B + (size_t)tile * 8 * 16;
  auto ld2 = [](const uint16_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 16); };
  uint32_t a0 = ld2(a + g * 16 + t * 2), a1 = ld2(a + (g + 8) * 16 + t * 2);
  uint32_t a2 = ld2(a + g * 16 + t * 2 + 8), a3 = ld2(a + (g + 8) * 16 + t * 2 + 8);
  uint32_t b0 = ld2(b + g * 16 + t * 2), b1 = ld2(b + g * 16 + t * 2 + 8);
  const float* c = C + (size_t)tile * 128;
  float d0 = c[g * 8 + t * 2], d1 = c[g * 8 + t * 2 + 1], d2 = c[(g + 8) * 8 + t * 2], d3 = c[(g + 8) * 8 + t * 2 + 1];
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
               : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  float* d = D + (size_t)tile * 128;
  d[g * 8 + t * 2] = d0; d[g * 8 + t * 2 + 1] = d1; d[(g + 8) * 8 + t * 2] = d2; d[(g + 8) * 8 + t * 2 + 1] = d3;
}

// mma.sync m16n8k32 fp8: A [tile][16][32] bytes, B [tile][8][32] bytes.
template <int E5M2>
__global__ void k_mma_fp8(const uint8_t* A, const uint8_t* B, const float* C, float* D, int tiles) {
  int tile = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (tile >= tiles) return;
  int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const uint8_t* a = A + (size_t)tile * 16 * 32;
  const uint8_t* b = B + (size_t)tile * 8 * 32;
  auto ld4 = [](const uint8_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); };
  uint32_t a0 = ld4(a + g * 32 + t * 4), a1 = ld4(a + (g + 8) * 32 + t * 4);
  uint32_t a2 = ld4(a + g * 32 + t * 4 + 16), a3 = ld4(a + (g + 8) * 32 + t * 4 + 16);
  uint32_t b0 = ld4(b + g * 32 + t * 4), b1 = ld4(b + g * 32 + t * 4 + 16);
  const float* c = C + (size_t)tile * 128;
  float d0 = c[g * 8 + t * 2], d1 = c[g * 8 + t * 2 + 1], d2 = c[(g + 8) * 8 + t * 2], d3 = c[(g + 8) * 8 + t * 2 + 1];
  if (E5M2) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e5m2.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  } else {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
  float* d = D + (size_t)tile * 128;
  d[g * 8 + t * 2] = d0; d[g * 8 + t * 2 + 1] = d1; d[(g + 8) * 8 + t * 2] = d2; d[(g + 8) * 8 + t * 2 + 1] = d3;
}

// wgmma: shared-memory matrix descriptor, no swizzle. Core matrices are 8 rows x 16 bytes
// (128 contiguous bytes); we store core matrix (r/8, kbyte/16) at ((r/8)*2 + kbyte/16)*128,
// so neighbours along K are 128 bytes apart and along M/N 256. Which of LBO/SBO names which
// stride is checked at run time (both orders are tried on exact integer data).
__device__ __forceinline__ uint64_t make_desc(const void* p, uint32_t lbo, uint32_t sbo) {
  uint32_t addr = (uint32_t)__cvta_generic_to_shared(p);
  uint64_t d = 0;
  d |= (uint64_t)((addr & 0x3FFFF) >> 4);
  d |= (uint64_t)((lbo & 0x3FFFF) >> 4) << 16;
  d |= (uint64_t)((sbo & 0x3FFFF) >> 4) << 32;
  return d;  // base offset 0, layout type 0 (no swizzle)
}
__device__ __forceinline__ int cm_off(int r, int kb) { return ((r / 8) * 2 + kb / 16) * 128 + (r % 8) * 16 + (kb % 16); }

// mode 0: e4m3 m64n8k32; mode 1: bf16 m64n8k16. A [tile][64][32 bytes], B [tile][8][32 bytes].
template <int MODE>
__device__ __forceinline__ void wgmma_64x8(uint8_t* sA, uint8_t* sB, float& d0, float& d1, float& d2, float& d3,
                                           uint32_t lbo, uint32_t sbo, int scale_d) {
  uint64_t da = make_desc(sA, lbo, sbo), db = make_desc(sB, lbo, sbo);
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
  if (MODE == 0) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %6, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n8k32.f32.e4m3.e4m3 {%0,%1,%2,%3}, %4, %5, p, 1, 1;\n}\n"
                 : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3) : "l"(da), "l"(db), "r"(scale_d) : "memory");
  } else {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %6, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n8k16.f32.bf16.bf16 {%0,%1,%2,%3}, %4, %5, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3) : "l"(da), "l"(db), "r"(scale_d) : "memory");
  }
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}

template <int MODE>
__global__ void __launch_bounds__(128) k_wgmma(const uint8_t* A, const uint8_t* B, const float* C, float* D, int tiles,
                                               uint32_t lbo, uint32_t sbo) {
  __shared__ __align__(1024) uint8_t sA[64 * 32];
  __shared__ __align__(1024) uint8_t sB[8 * 32];
  int tile = blockIdx.x;
  if (tile >= tiles) return;
  const uint8_t* a = A + (size_t)tile * 64 * 32;
  const uint8_t* b = B + (size_t)tile * 8 * 32;
  for (int i = threadIdx.x; i < 64 * 32; i += 128) sA[cm_off(i / 32, i % 32)] = a[i];
  for (int i = threadIdx.x; i < 8 * 32; i += 128) sB[cm_off(i / 32, i % 32)] = b[i];
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  __syncthreads();
  int w = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  int r0 = 16 * w + g, r1 = r0 + 8;
  const float* c = C + (size_t)tile * 512;
  float d0 = c[r0 * 8 + 2 * t], d1 = c[r0 * 8 + 2 * t + 1], d2 = c[r1 * 8 + 2 * t], d3 = c[r1 * 8 + 2 * t + 1];
  wgmma_64x8<MODE>(sA, sB, d0, d1, d2, d3, lbo, sbo, 1);
  float* d = D + (size_t)tile * 512;
  d[r0 * 8 + 2 * t] = d0; d[r0 * 8 + 2 * t + 1] = d1; d[r1 * 8 + 2 * t] = d2; d[r1 * 8 + 2 * t + 1] = d3;
}

// SFP4 x NVFP4 GEMM, Hopper pipeline. A: M x K SFP4 codes (one per byte), scales M x K/16 (SFP4
// bytes: selector bits 7:6); B: N x K NVFP4 codes (column-major B), scales N x K/16 (UE4M3).
// One warpgroup per 64 x 8 tile of D. Per 16-block: decode to E4M3 into k = 0..15 of a k32
// wgmma (k = 16..31 zero), D_b = A_b B_b (scale-d = 0), then acc = fmaf(D_b, sA*sB, acc).
__constant__ uint8_t c_sfp4_e4m3[3][16];  // [grid: plain, plus, minus][code]
__constant__ float c_ue4m3[128];          // UE4M3 value of byte & 0x7F (NaN at 0x7F)

__global__ void __launch_bounds__(128) k_sfp4(const uint8_t* A, const uint8_t* SA, const uint8_t* B, const uint8_t* SB,
                                              const float* C, float* D, int M, int N, int K, uint32_t lbo, uint32_t sbo) {
  __shared__ __align__(1024) uint8_t sA[64 * 32];
  __shared__ __align__(1024) uint8_t sB[8 * 32];
  int m0 = blockIdx.x * 64, n0 = blockIdx.y * 8;
  int w = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  int r[4] = {m0 + 16 * w + g, m0 + 16 * w + g, m0 + 16 * w + g + 8, m0 + 16 * w + g + 8};
  int cl[4] = {n0 + 2 * t, n0 + 2 * t + 1, n0 + 2 * t, n0 + 2 * t + 1};
  float acc[4];
  for (int i = 0; i < 4; i++) acc[i] = C[(size_t)r[i] * N + cl[i]];
  int nb = K / 16;
  for (int blk = 0; blk < nb; blk++) {
    __syncthreads();
    for (int i = threadIdx.x; i < 64 * 32; i += 128) {
      int row = i / 32, kk = i % 32;
      uint8_t v = 0;
      if (kk < 16) {
        uint8_t s = SA[(size_t)(m0 + row) * nb + blk];
        int grid = (s >> 6) == 0 ? 0 : ((s >> 6) == 2 ? 1 : 2);
        v = c_sfp4_e4m3[grid][A[(size_t)(m0 + row) * K + blk * 16 + kk] & 15];
      }
      sA[cm_off(row, kk)] = v;
    }
    for (int i = threadIdx.x; i < 8 * 32; i += 128) {
      int col = i / 32, kk = i % 32;
      sB[cm_off(col, kk)] = kk < 16 ? c_sfp4_e4m3[0][B[(size_t)(n0 + col) * K + blk * 16 + kk] & 15] : 0;
    }
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();
    float d[4] = {0.f, 0.f, 0.f, 0.f};
    wgmma_64x8<0>(sA, sB, d[0], d[1], d[2], d[3], lbo, sbo, 0);
    for (int i = 0; i < 4; i++) {
      float sa = c_ue4m3[SA[(size_t)r[i] * nb + blk] & 0x3F];
      float sb = c_ue4m3[SB[(size_t)cl[i] * nb + blk] & 0x7F];
      acc[i] = __fmaf_rn(d[i], __fmul_rn(sa, sb), acc[i]);
    }
  }
  for (int i = 0; i < 4; i++) D[(size_t)r[i] * N + cl[i]] = acc[i];
}

// ------------------------------------------------------------------------------------------
// Host: operand generation.

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// FP8 code by mode. 0 bits, 1 narrow, 2 wide (no NaN), 3 subnormal-heavy, 4 sparse (mostly 0).
static uint8_t gen_fp8(int mode, bool e5m2) {
  int mb = e5m2 ? 2 : 3, eb = e5m2 ? 5 : 4, bias = e5m2 ? 15 : 7;
  uint32_t s = rint_(2) << 7, m = rint_(1u << mb), e;
  switch (mode) {
    case 0: return (uint8_t)rint_(256);
    case 1: e = bias - 3 + rint_(7); break;
    case 2: e = rint_((1u << eb) - 1); break;  // excludes the all-ones exponent
    case 3: e = rint_(4) == 0 ? 1 + rint_(3) : 0; break;
    default: if (rint_(5) != 0) return 0; e = 1 + rint_((1u << eb) - 2); break;
  }
  uint8_t c = (uint8_t)(s | (e << mb) | m);
  if (!e5m2 && (c & 0x7F) == 0x7F) c &= 0xFE;
  return c;
}
static uint16_t gen_bf16(int mode) {
  uint32_t s = rint_(2) << 15, m = rint_(128), e;
  switch (mode) {
    case 0: return (uint16_t)rint_(65536);
    case 1: e = 124 + rint_(7); break;
    case 2: e = 1 + rint_(253); break;
    case 3: e = rint_(4) == 0 ? 1 + rint_(3) : 0; break;
    default: if (rint_(5) != 0) return 0; e = 100 + rint_(50); break;
  }
  return (uint16_t)(s | (e << 7) | m);
}
// FP32 accumulator, exponent centred on `centre` (a biased exponent).
static uint32_t gen_c(int centre) {
  uint32_t s = rint_(2) << 31, m = rint_(1u << 23);
  switch (rint_(8)) {
    case 0: return (uint32_t)rnd();
    case 1: return 0;
    case 2: return s | (rint_(3) << 23) | m;  // subnormal or tiny
    default: {
      int e = centre - 30 + (int)rint_(40);
      if (e < 1) e = 1;
      if (e > 254) e = 254;
      return s | ((uint32_t)e << 23) | m;
    }
  }
}

static std::string hex_codes(const uint8_t* p, int n, int stride, bool nibble) {
  std::string s;
  char buf[4];
  for (int i = 0; i < n; i++) {
    snprintf(buf, sizeof buf, nibble ? "%X" : "%02X", p[(size_t)i * stride]);
    s += buf;
  }
  return s;
}
static std::string hex16(const uint16_t* p, int n, int stride) {
  std::string s;
  char buf[8];
  for (int i = 0; i < n; i++) { snprintf(buf, sizeof buf, "%04X", p[(size_t)i * stride]); s += buf; }
  return s;
}

struct Summary { std::string text; void add(const char* fmt, ...) __attribute__((format(printf, 2, 3))); };
void Summary::add(const char* fmt, ...) {
  char buf[1024];
  va_list ap; va_start(ap, fmt); vsnprintf(buf, sizeof buf, fmt, ap); va_end(ap);
  text += buf; fputs(buf, stdout); fflush(stdout);
}
static Summary S;

// Exact float dot for layout checks (small integers: exact in double).
static bool check_exact(const std::vector<double>& want, const std::vector<float>& got, const char* what) {
  size_t bad = 0;
  for (size_t i = 0; i < want.size(); i++) if ((double)got[i] != want[i]) bad++;
  S.add("layout check %-28s %s (%zu/%zu exact)\n", what, bad ? "FAIL" : "ok", want.size() - bad, want.size());
  return bad == 0;
}

template <typename T> struct Dev {
  T* p = nullptr; size_t n;
  explicit Dev(size_t n_) : n(n_) { CK(cudaMalloc(&p, n * sizeof(T))); }
  ~Dev() { cudaFree(p); }
  void put(const std::vector<T>& v) { CK(cudaMemcpy(p, v.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
  void get(std::vector<T>& v) { v.resize(n); CK(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost)); }
};

static float e4m3_val(uint8_t c) {
  int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
  float v = e == 0 ? ldexpf((float)m, -9) : ldexpf((float)(8 + m), e - 10);
  return s ? -v : v;
}
static uint8_t e4m3_small_int(int v) {  // exact E4M3 code of an integer in [-8, 8]
  if (v == 0) return 0;
  int a = abs(v), e = 31 - __builtin_clz(a);
  uint8_t c = (uint8_t)(((e + 7) << 3) | (((a << (3 - e)) & 7)));
  return v < 0 ? (c | 0x80) : c;
}
static uint16_t bf16_small_int(int v) { return (uint16_t)(f2u((float)v) >> 16); }

// ------------------------------------------------------------------------------------------
int main(int argc, char** argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s OUTDIR [tiles_mma=800] [seed=1]\n", argv[0]); return 2; }
  std::string out = argv[1];
  int tiles = argc > 2 ? atoi(argv[2]) : 800;
  g_state = argc > 3 ? strtoull(argv[3], nullptr, 10) : 1;
  g_seed = g_state;
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  int drv = 0, rt = 0;
  cudaDriverGetVersion(&drv);
  cudaRuntimeGetVersion(&rt);
  S.add("gpu: %s (sm_%d%d), CUDA driver API %d, runtime %d, seed %llu\n", prop.name, prop.major, prop.minor, drv, rt,
        (unsigned long long)g_seed);

  // ---------------- mma.sync bf16 ----------------
  {
    const char* instr = "hopper/mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32";
    for (int pass = 0; pass < 2; pass++) {
      int T = pass == 0 ? 8 : tiles;
      std::vector<uint16_t> A((size_t)T * 256), B((size_t)T * 128);
      std::vector<float> C((size_t)T * 128), D;
      std::vector<double> want((size_t)T * 128);
      for (int tt = 0; tt < T; tt++) {
        int mode = tt % 5;
        for (int i = 0; i < 256; i++) A[tt * 256 + i] = pass ? gen_bf16(mode) : bf16_small_int((int)rint_(9) - 4);
        for (int i = 0; i < 128; i++) B[tt * 128 + i] = pass ? gen_bf16(mode == 4 ? 1 : mode) : bf16_small_int((int)rint_(9) - 4);
        for (int i = 0; i < 128; i++) C[tt * 128 + i] = pass ? u2f(gen_c(mode == 1 || mode == 4 ? 127 : 127 + 20)) : (float)((int)rint_(9) - 4);
      }
      if (!pass)
        for (int tt = 0; tt < T; tt++)
          for (int r = 0; r < 16; r++)
            for (int n = 0; n < 8; n++) {
              double s = C[tt * 128 + r * 8 + n];
              for (int k = 0; k < 16; k++) s += (double)u2f((uint32_t)A[tt * 256 + r * 16 + k] << 16) * u2f((uint32_t)B[tt * 128 + n * 16 + k] << 16);
              want[tt * 128 + r * 8 + n] = s;
            }
      Dev<uint16_t> dA(A.size()), dB(B.size());
      Dev<float> dC(C.size()), dD(C.size());
      dA.put(A); dB.put(B); dC.put(C);
      k_mma_bf16<<<(T + 3) / 4, 128>>>(dA.p, dB.p, dC.p, dD.p, T);
      CK(cudaDeviceSynchronize());
      dD.get(D);
      if (!pass) { if (!check_exact(want, D, "mma.sync bf16")) break; continue; }
      std::string path = out + "/hopper_mma_bf16.txt";
      FILE* f = fopen(path.c_str(), "w");
      fprintf(f, "# %s on %s, gpu/mma_probe.cu (gpu/run.sh), seed %llu\n", instr, prop.name, (unsigned long long)g_seed);
      for (int tt = 0; tt < T; tt++)
        for (int r = 0; r < 16; r++)
          for (int n = 0; n < 8; n++)
            fprintf(f, "%s %s %s - - %08X %08X\n", instr, hex16(&A[tt * 256 + r * 16], 16, 1).c_str(),
                    hex16(&B[tt * 128 + n * 16], 16, 1).c_str(), f2u(C[tt * 128 + r * 8 + n]), f2u(D[tt * 128 + r * 8 + n]));
      fclose(f);
      S.add("wrote %s: %d cases\n", path.c_str(), T * 128);
    }
  }

  // ---------------- mma.sync fp8 ----------------
  for (int e5 = 0; e5 < 2; e5++) {
    const char* instr = e5 ? "hopper/mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e5m2.f32"
                           : "hopper/mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32";
    for (int pass = 0; pass < 2; pass++) {
      int T = pass == 0 ? 8 : tiles;
      std::vector<uint8_t> A((size_t)T * 512), B((size_t)T * 256);
      std::vector<float> C((size_t)T * 128), D;
      std::vector<double> want((size_t)T * 128);
      for (int tt = 0; tt < T; tt++) {
        int mode = tt % 5;
        for (int i = 0; i < 512; i++) A[tt * 512 + i] = pass ? gen_fp8(mode, e5) : (e5 ? 0 : e4m3_small_int((int)rint_(9) - 4));
        for (int i = 0; i < 256; i++) B[tt * 256 + i] = pass ? gen_fp8(mode == 4 ? 2 : mode, e5) : (e5 ? 0 : e4m3_small_int((int)rint_(9) - 4));
        for (int i = 0; i < 128; i++) C[tt * 128 + i] = pass ? u2f(gen_c(127 + (e5 ? 0 : 2))) : (float)((int)rint_(9) - 4);
      }
      if (!pass) {
        if (e5) continue;  // the e4m3 check covers the shared fragment layout
        for (int tt = 0; tt < T; tt++)
          for (int r = 0; r < 16; r++)
            for (int n = 0; n < 8; n++) {
              double s = C[tt * 128 + r * 8 + n];
              for (int k = 0; k < 32; k++) s += (double)e4m3_val(A[tt * 512 + r * 32 + k]) * e4m3_val(B[tt * 256 + n * 32 + k]);
              want[tt * 128 + r * 8 + n] = s;
            }
      }
      Dev<uint8_t> dA(A.size()), dB(B.size());
      Dev<float> dC(C.size()), dD(C.size());
      dA.put(A); dB.put(B); dC.put(C);
      if (e5) k_mma_fp8<1><<<(T + 3) / 4, 128>>>(dA.p, dB.p, dC.p, dD.p, T);
      else k_mma_fp8<0><<<(T + 3) / 4, 128>>>(dA.p, dB.p, dC.p, dD.p, T);
      CK(cudaDeviceSynchronize());
      dD.get(D);
      if (!pass) { if (!check_exact(want, D, "mma.sync e4m3")) break; continue; }
      std::string path = out + (e5 ? "/hopper_mma_e5m2.txt" : "/hopper_mma_e4m3.txt");
      FILE* f = fopen(path.c_str(), "w");
      fprintf(f, "# %s on %s, gpu/mma_probe.cu (gpu/run.sh), seed %llu\n", instr, prop.name, (unsigned long long)g_seed);
      for (int tt = 0; tt < T; tt++)
        for (int r = 0; r < 16; r++)
          for (int n = 0; n < 8; n++)
            fprintf(f, "%s %s %s - - %08X %08X\n", instr, hex_codes(&A[tt * 512 + r * 32], 32, 1, false).c_str(),
                    hex_codes(&B[tt * 256 + n * 32], 32, 1, false).c_str(), f2u(C[tt * 128 + r * 8 + n]), f2u(D[tt * 128 + r * 8 + n]));
      fclose(f);
      S.add("wrote %s: %d cases\n", path.c_str(), T * 128);
    }
  }

  // ---------------- wgmma (find the descriptor convention first) ----------------
  uint32_t lbo = 0, sbo = 0;
  bool wg_ok = false;
  for (int mode = 0; mode < 2; mode++) {
    const char* instr = mode == 0 ? "hopper/wgmma.f32.e4m3.e4m3" : "hopper/wgmma.f32.bf16.bf16";
    int kk = mode == 0 ? 32 : 16;
    for (int pass = 0; pass < 2; pass++) {
      int T = pass == 0 ? 4 : tiles / 4;
      std::vector<uint8_t> A((size_t)T * 2048), B((size_t)T * 256);
      std::vector<float> C((size_t)T * 512), D;
      std::vector<double> want((size_t)T * 512);
      for (int tt = 0; tt < T; tt++) {
        int md = tt % 5;
        for (int i = 0; i < 2048 / (mode ? 2 : 1); i++) {
          if (mode == 0) A[tt * 2048 + i] = pass ? gen_fp8(md, false) : e4m3_small_int((int)rint_(9) - 4);
          else { uint16_t v = pass ? gen_bf16(md) : bf16_small_int((int)rint_(9) - 4); memcpy(&A[tt * 2048 + 2 * i], &v, 2); }
        }
        for (int i = 0; i < 256 / (mode ? 2 : 1); i++) {
          if (mode == 0) B[tt * 256 + i] = pass ? gen_fp8(md == 4 ? 2 : md, false) : e4m3_small_int((int)rint_(9) - 4);
          else { uint16_t v = pass ? gen_bf16(md == 4 ? 1 : md) : bf16_small_int((int)rint_(9) - 4); memcpy(&B[tt * 256 + 2 * i], &v, 2); }
        }
        for (int i = 0; i < 512; i++) C[tt * 512 + i] = pass ? u2f(gen_c(mode == 0 ? 129 : 147)) : (float)((int)rint_(9) - 4);
      }
      auto elem = [&](const std::vector<uint8_t>& M, size_t base, int k) -> double {
        if (mode == 0) return e4m3_val(M[base + k]);
        uint16_t v; memcpy(&v, &M[base + 2 * k], 2); return u2f((uint32_t)v << 16);
      };
      if (!pass)
        for (int tt = 0; tt < T; tt++)
          for (int r = 0; r < 64; r++)
            for (int n = 0; n < 8; n++) {
              double s = C[tt * 512 + r * 8 + n];
              for (int k = 0; k < kk; k++) s += elem(A, tt * 2048 + r * 32, k) * elem(B, tt * 256 + n * 32, k);
              want[tt * 512 + r * 8 + n] = s;
            }
      Dev<uint8_t> dA(A.size()), dB(B.size());
      Dev<float> dC(C.size()), dD(C.size());
      dA.put(A); dB.put(B); dC.put(C);
      if (!pass) {
        const uint32_t cand[2][2] = {{128, 256}, {256, 128}};
        bool ok = false;
        for (int ci = 0; ci < 2 && !ok; ci++) {
          if (mode == 1 && wg_ok && (cand[ci][0] != lbo)) continue;
          if (mode == 0) k_wgmma<0><<<T, 128>>>(dA.p, dB.p, dC.p, dD.p, T, cand[ci][0], cand[ci][1]);
          else k_wgmma<1><<<T, 128>>>(dA.p, dB.p, dC.p, dD.p, T, cand[ci][0], cand[ci][1]);
          CK(cudaDeviceSynchronize());
          dD.get(D);
          char what[64];
          snprintf(what, sizeof what, "%s lbo=%u sbo=%u", mode ? "wgmma bf16" : "wgmma e4m3", cand[ci][0], cand[ci][1]);
          if (check_exact(want, D, what)) { ok = true; lbo = cand[ci][0]; sbo = cand[ci][1]; }
        }
        if (!ok) break;
        if (mode == 0) wg_ok = true;
        continue;
      }
      if (mode == 0) k_wgmma<0><<<T, 128>>>(dA.p, dB.p, dC.p, dD.p, T, lbo, sbo);
      else k_wgmma<1><<<T, 128>>>(dA.p, dB.p, dC.p, dD.p, T, lbo, sbo);
      CK(cudaDeviceSynchronize());
      dD.get(D);
      // One K-row of 32 bytes: 32 e4m3 codes, or 16 little-endian bf16 codes (4 digits each).
      auto row_hex = [&](const uint8_t* p) {
        if (mode == 0) return hex_codes(p, 32, 1, false);
        uint16_t v[16];
        memcpy(v, p, 32);
        return hex16(v, 16, 1);
      };
      std::string path = out + (mode == 0 ? "/hopper_wgmma_e4m3.txt" : "/hopper_wgmma_bf16.txt");
      FILE* f = fopen(path.c_str(), "w");
      fprintf(f, "# %s (m64n8k%d) on %s, gpu/mma_probe.cu (gpu/run.sh), seed %llu\n", instr, kk, prop.name, (unsigned long long)g_seed);
      for (int tt = 0; tt < T; tt++)
        for (int r = 0; r < 64; r++)
          for (int n = 0; n < 8; n++)
            fprintf(f, "%s %s %s - - %08X %08X\n", instr, row_hex(&A[tt * 2048 + r * 32]).c_str(),
                    row_hex(&B[tt * 256 + n * 32]).c_str(), f2u(C[tt * 512 + r * 8 + n]), f2u(D[tt * 512 + r * 8 + n]));
      fclose(f);
      S.add("wrote %s: %d cases\n", path.c_str(), T * 512);
    }
  }

  // ---------------- SFP4 x NVFP4 GEMM (Hopper pipeline) ----------------
  if (wg_ok) {
    const int M = 128, N = 64, K = 256, nb = K / 16;
    static const int x2[8] = {0, 1, 2, 3, 4, 6, 8, 12};
    uint8_t tab[3][16];
    for (int grid = 0; grid < 3; grid++)
      for (int code = 0; code < 16; code++) {
        int v = (code & 8 ? -x2[code & 7] : x2[code & 7]) + (grid == 1 ? 1 : grid == 2 ? -1 : 0);
        int a = abs(v);
        uint8_t c = 0;
        if (a) { int e = 31 - __builtin_clz(a); c = (uint8_t)(((e - 1 + 7) << 3) | ((a << (3 - e)) & 7)); if (v < 0) c |= 0x80; }
        tab[grid][code] = c;
      }
    float ue[128];
    for (int i = 0; i < 128; i++) ue[i] = i == 0x7F ? NAN : e4m3_val((uint8_t)i);
    CK(cudaMemcpyToSymbol(c_sfp4_e4m3, tab, sizeof tab));
    CK(cudaMemcpyToSymbol(c_ue4m3, ue, sizeof ue));
    std::vector<uint8_t> A((size_t)M * K), SA((size_t)M * nb), B((size_t)N * K), SB((size_t)N * nb);
    std::vector<float> C((size_t)M * N), D;
    static const uint8_t sel[3] = {0x00, 0x80, 0xC0};
    for (auto& v : A) v = (uint8_t)rint_(16);
    for (auto& v : B) v = (uint8_t)rint_(16);
    for (auto& v : SA) v = (uint8_t)(sel[rint_(3)] | (rint_(8) == 0 ? rint_(64) : 0x20 + rint_(0x20)));
    for (auto& v : SB) { v = (uint8_t)((rint_(2) << 7) | (0x20 + rint_(0x40))); if ((v & 0x7F) == 0x7F) v &= 0xFE; }
    for (auto& v : C) v = rint_(4) == 0 ? 0.f : u2f(gen_c(127 + 4));
    Dev<uint8_t> dA(A.size()), dSA(SA.size()), dB(B.size()), dSB(SB.size());
    Dev<float> dC(C.size()), dD(C.size());
    dA.put(A); dSA.put(SA); dB.put(B); dSB.put(SB); dC.put(C);
    k_sfp4<<<dim3(M / 64, N / 8), 128>>>(dA.p, dSA.p, dB.p, dSB.p, dC.p, dD.p, M, N, K, lbo, sbo);
    CK(cudaDeviceSynchronize());
    dD.get(D);
    std::string path = out + "/hopper_sfp4.txt";
    FILE* f = fopen(path.c_str(), "w");
    fprintf(f, "# sfp4/hopper: SFP4 x NVFP4 GEMM %dx%dx%d on %s (k_sfp4, gpu/mma_probe.cu), seed %llu\n", M, N, K, prop.name,
            (unsigned long long)g_seed);
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++)
        fprintf(f, "sfp4/hopper %s %s %s %s %08X %08X\n", hex_codes(&A[(size_t)i * K], K, 1, true).c_str(),
                hex_codes(&B[(size_t)j * K], K, 1, true).c_str(), hex_codes(&SA[(size_t)i * nb], nb, 1, false).c_str(),
                hex_codes(&SB[(size_t)j * nb], nb, 1, false).c_str(), f2u(C[(size_t)i * N + j]), f2u(D[(size_t)i * N + j]));
    fclose(f);
    S.add("wrote %s: %d cases\n", path.c_str(), M * N);
  } else {
    S.add("sfp4 GEMM skipped: no working wgmma descriptor convention\n");
  }
  FILE* f = fopen((out + "/probe_summary.txt").c_str(), "w");
  fputs(S.text.c_str(), f);
  fclose(f);
  return 0;
}
