// Hopper probe for wgmma with f16 accumulators (not yet modelled by gridgames):
//   wgmma.mma_async.sync.aligned.m64n8k32.f16.{e4m3,e5m2}.{same}   and   m64n8k16.f16.f16.f16
// on structured inputs, written as case lines (vectors/mma/README.md) for fitting:
//   c0 (C = 0), one (one nonzero product per output, random C), two (two products, random C),
//   rand (dense, random C).
// Shared-memory operands K-major, no swizzle, as gpu/mma_probe.cu (which of LBO/SBO is which
// stride is found on small integers first; a failing layout writes nothing).
//
// Build: nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o wgmma_f16_probe wgmma_f16_probe.cu
// Run:   ./wgmma_f16_probe OUTDIR [tiles] [seed]
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { \
  fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); exit(1); } } while (0)

static uint64_t g_state = 1;
static uint64_t rnd() {
  uint64_t z = (g_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint32_t rint_(uint32_t n) { return (uint32_t)(rnd() % n); }

__device__ __forceinline__ uint64_t make_desc(const void* p, uint32_t lbo, uint32_t sbo) {
  uint32_t addr = (uint32_t)__cvta_generic_to_shared(p);
  uint64_t d = 0;
  d |= (uint64_t)((addr & 0x3FFFF) >> 4);
  d |= (uint64_t)((lbo & 0x3FFFF) >> 4) << 16;
  d |= (uint64_t)((sbo & 0x3FFFF) >> 4) << 32;
  return d;
}
__device__ __forceinline__ int cm_off(int r, int kb) { return ((r / 8) * 2 + kb / 16) * 128 + (r % 8) * 16 + (kb % 16); }

// MODE 0: e4m3 k32, 1: e5m2 k32, 2: f16 k16. A [tile][64][32 bytes], B [tile][8][32 bytes];
// C, D [tile][64][8] f16 bits.
template <int MODE>
__global__ void __launch_bounds__(128) k_wgmma_f16(const uint8_t* A, const uint8_t* B, const uint16_t* C, uint16_t* D,
                                                   int tiles, uint32_t lbo, uint32_t sbo, int scale_d) {
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
  const uint16_t* c = C + (size_t)tile * 512;
  uint32_t d0 = (uint32_t)c[r0 * 8 + 2 * t] | ((uint32_t)c[r0 * 8 + 2 * t + 1] << 16);
  uint32_t d1 = (uint32_t)c[r1 * 8 + 2 * t] | ((uint32_t)c[r1 * 8 + 2 * t + 1] << 16);
  uint64_t da = make_desc(sA, lbo, sbo), db = make_desc(sB, lbo, sbo);
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
  if (MODE == 0)
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %4, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n8k32.f16.e4m3.e4m3 {%0,%1}, %2, %3, p, 1, 1;\n}\n"
                 : "+r"(d0), "+r"(d1) : "l"(da), "l"(db), "r"(scale_d) : "memory");
  else if (MODE == 1)
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %4, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n8k32.f16.e5m2.e5m2 {%0,%1}, %2, %3, p, 1, 1;\n}\n"
                 : "+r"(d0), "+r"(d1) : "l"(da), "l"(db), "r"(scale_d) : "memory");
  else
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %4, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n8k16.f16.f16.f16 {%0,%1}, %2, %3, p, 1, 1, 0, 0;\n}\n"
                 : "+r"(d0), "+r"(d1) : "l"(da), "l"(db), "r"(scale_d) : "memory");
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  uint16_t* d = D + (size_t)tile * 512;
  d[r0 * 8 + 2 * t] = d0 & 0xffff; d[r0 * 8 + 2 * t + 1] = d0 >> 16;
  d[r1 * 8 + 2 * t] = d1 & 0xffff; d[r1 * 8 + 2 * t + 1] = d1 >> 16;
}

static uint8_t fp8(bool e5m2) {
  for (;;) {
    uint8_t v = (uint8_t)rnd();
    uint8_t mag = v & 0x7f;
    if (!e5m2 && mag == 0x7f) continue;
    if (e5m2 && mag >= 0x7c) continue;
    int bias = e5m2 ? 15 : 7, mbits = e5m2 ? 2 : 3;
    if (rint_(4) != 0) mag = (uint8_t)(((bias - 3 + (int)rint_(7)) << mbits) | (v & ((1 << mbits) - 1)));
    return (uint8_t)((v & 0x80) | mag);
  }
}
static uint16_t f16_val() {  // |x| about 2^-3 .. 2^3
  uint32_t e = 12 + rint_(7);
  return (uint16_t)(((uint32_t)rint_(2) << 15) | (e << 10) | rint_(1024));
}
static uint16_t f16_small(int n) { return __half_as_ushort(__float2half((float)n)); }
static uint8_t fp8_small(int n, bool e5m2) {
  static const uint8_t e4[5] = {0x00, 0x38, 0x40, 0x44, 0x48}, e5[5] = {0x00, 0x3c, 0x40, 0x42, 0x44};
  uint8_t m = (e5m2 ? e5 : e4)[n < 0 ? -n : n];
  return (uint8_t)(n < 0 ? (m | 0x80) : m);
}

int main(int argc, char** argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s OUTDIR [tiles] [seed]\n", argv[0]); return 2; }
  std::string out = argv[1];
  int tiles = argc > 2 ? atoi(argv[2]) : 10;
  g_state = argc > 3 ? strtoull(argv[3], 0, 10) : 1;
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  printf("gpu: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  uint32_t lbo = 0, sbo = 0;
  for (int mode = 0; mode < 3; mode++) {
    const char* t = mode == 0 ? "e4m3" : mode == 1 ? "e5m2" : "f16";
    int kk = mode == 2 ? 16 : 32, esz = mode == 2 ? 2 : 1;
    for (int set = -1; set < 4; set++) {
      int T = set < 0 ? 4 : tiles;
      std::vector<uint8_t> A((size_t)T * 2048), B((size_t)T * 256);
      std::vector<uint16_t> C((size_t)T * 512), D(C.size());
      std::vector<int> vA((size_t)T * 64 * kk), vB((size_t)T * 8 * kk);
      auto put = [&](std::vector<uint8_t>& M, size_t base, int k, int small, bool use_small, bool zero) {
        if (mode == 2) {
          uint16_t v = zero ? 0 : use_small ? f16_small(small) : f16_val();
          memcpy(&M[base + 2 * k], &v, 2);
        } else {
          M[base + k] = zero ? 0 : use_small ? fp8_small(small, mode == 1) : fp8(mode == 1);
        }
      };
      for (int tt = 0; tt < T; tt++) {
        for (int r = 0; r < 64; r++) {
          int k1 = rint_(kk), k2 = (k1 + 1 + rint_(kk - 1)) % kk;
          for (int k = 0; k < kk; k++) {
            int s = (int)rint_(9) - 4;
            bool zero = (set == 1 && k != k1) || (set == 2 && k != k1 && k != k2);
            put(A, (size_t)tt * 2048 + r * 32, k, s, set < 0, zero);
            vA[((size_t)tt * 64 + r) * kk + k] = zero ? 0 : s;
          }
        }
        for (int n = 0; n < 8; n++)
          for (int k = 0; k < kk; k++) {
            int s = (int)rint_(9) - 4;
            put(B, (size_t)tt * 256 + n * 32, k, s, set < 0, false);
            vB[((size_t)tt * 8 + n) * kk + k] = s;
          }
        for (int i = 0; i < 512; i++)
          C[tt * 512 + i] = set < 0 ? f16_small((int)rint_(9) - 4) : set == 0 ? 0 : f16_val();
      }
      uint8_t *dA, *dB; uint16_t *dC, *dD;
      CK(cudaMalloc(&dA, A.size())); CK(cudaMalloc(&dB, B.size()));
      CK(cudaMalloc(&dC, C.size() * 2)); CK(cudaMalloc(&dD, D.size() * 2));
      CK(cudaMemcpy(dA, A.data(), A.size(), cudaMemcpyHostToDevice));
      CK(cudaMemcpy(dB, B.data(), B.size(), cudaMemcpyHostToDevice));
      CK(cudaMemcpy(dC, C.data(), C.size() * 2, cudaMemcpyHostToDevice));
      auto launch = [&](uint32_t l, uint32_t s) {
        int sd = set == 0 ? 0 : 1;
        if (mode == 0) k_wgmma_f16<0><<<T, 128>>>(dA, dB, dC, dD, T, l, s, sd);
        else if (mode == 1) k_wgmma_f16<1><<<T, 128>>>(dA, dB, dC, dD, T, l, s, sd);
        else k_wgmma_f16<2><<<T, 128>>>(dA, dB, dC, dD, T, l, s, sd);
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(D.data(), dD, D.size() * 2, cudaMemcpyDeviceToHost));
      };
      if (set < 0) {
        const uint32_t cand[2][2] = {{128, 256}, {256, 128}};
        bool ok = false;
        for (int ci = 0; ci < 2 && !ok; ci++) {
          launch(cand[ci][0], cand[ci][1]);
          int bad = 0;
          for (int tt = 0; tt < T; tt++)
            for (int r = 0; r < 64; r++)
              for (int n = 0; n < 8; n++) {
                int s = (int)__half2float(__ushort_as_half(C[tt * 512 + r * 8 + n]));
                for (int k = 0; k < kk; k++) s += vA[((size_t)tt * 64 + r) * kk + k] * vB[((size_t)tt * 8 + n) * kk + k];
                if ((float)s != __half2float(__ushort_as_half(D[tt * 512 + r * 8 + n]))) bad++;
              }
          printf("%s layout lbo=%u sbo=%u: %d of %d differ\n", t, cand[ci][0], cand[ci][1], bad, T * 512);
          if (!bad) { ok = true; lbo = cand[ci][0]; sbo = cand[ci][1]; }
        }
        cudaFree(dA); cudaFree(dB); cudaFree(dC); cudaFree(dD);
        if (!ok) return 1;
        continue;
      }
      launch(lbo, sbo);
      cudaFree(dA); cudaFree(dB); cudaFree(dC); cudaFree(dD);
      static const char* names[4] = {"c0", "one", "two", "rand"};
      std::string path = out + "/wgmma_f16_" + t + "_" + names[set] + ".txt";
      FILE* f = fopen(path.c_str(), "w");
      fprintf(f, "# wgmma.mma_async m64n8k%d.f16.%s.%s on %s, gpu/wgmma_f16_probe.cu, set %s, seed %s\n", kk, t, t,
              prop.name, names[set], argc > 3 ? argv[3] : "1");
      for (int tt = 0; tt < T; tt++)
        for (int r = 0; r < 64; r++)
          for (int n = 0; n < 8; n++) {
            fprintf(f, "hopper/wgmma.f16.%s.%s ", t, t);
            for (int k = 0; k < 32; k += esz) {
              if (esz == 2) fprintf(f, "%02X%02X", A[tt * 2048 + r * 32 + k + 1], A[tt * 2048 + r * 32 + k]);
              else fprintf(f, "%02X", A[tt * 2048 + r * 32 + k]);
            }
            fprintf(f, " ");
            for (int k = 0; k < 32; k += esz) {
              if (esz == 2) fprintf(f, "%02X%02X", B[tt * 256 + n * 32 + k + 1], B[tt * 256 + n * 32 + k]);
              else fprintf(f, "%02X", B[tt * 256 + n * 32 + k]);
            }
            fprintf(f, " - - %04X %04X\n", C[tt * 512 + r * 8 + n], D[tt * 512 + r * 8 + n]);
          }
      fclose(f);
      printf("wrote %s: %d cases\n", path.c_str(), T * 512);
    }
  }
  return 0;
}
