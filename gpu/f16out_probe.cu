// Hopper probe for the FP8 mma.sync with f16 accumulators, the one FP8 instruction whose
// arithmetic gridgames cannot yet reproduce (vectors/mma/README.md lists the refuted rules):
//   mma.sync.aligned.m16n8k32.row.col.f16.{e4m3,e5m2}.{e4m3,e5m2}.f16
// on structured inputs that separate the candidate rules, written as case lines
// (vectors/mma/README.md format) for `gridgames mma --cases` once a model exists:
//   c0     C = 0, dense random FP8 operands
//   one    one nonzero product per output (A row r has one nonzero, at k_r), random C
//   two    two nonzero products per output (k_r and k_r + d), C = 0 and random C
//   rand   dense random operands, random C
//
// Build: nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o f16out_probe f16out_probe.cu
// Run:   ./f16out_probe OUTDIR [tiles] [seed]
//
// Fragment layout (PTX ISA, mma.m16n8k32 .e4m3): lane = 4g + t; a0 = A[g][4t..4t+3],
// a1 = A[g+8][4t..], a2 = A[g][16+4t..], a3 = A[g+8][16+4t..]; b0 = B[n=g][4t..], b1 =
// B[g][16+4t..]; the f16 accumulator: c0/d0 = {D[g][2t], D[g][2t+1]}, c1/d1 = the same for
// row g + 8 (low half first). The layout is checked on small integers first.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cmath>
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

template <int E5M2>
__global__ void k_mma_f16(const uint8_t* A, const uint8_t* B, const uint16_t* C, uint16_t* D, int tiles) {
  int tile = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (tile >= tiles) return;
  int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const uint8_t* a = A + (size_t)tile * 16 * 32;
  const uint8_t* b = B + (size_t)tile * 8 * 32;
  auto ld4 = [](const uint8_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); };
  uint32_t a0 = ld4(a + g * 32 + t * 4), a1 = ld4(a + (g + 8) * 32 + t * 4);
  uint32_t a2 = ld4(a + g * 32 + t * 4 + 16), a3 = ld4(a + (g + 8) * 32 + t * 4 + 16);
  uint32_t b0 = ld4(b + g * 32 + t * 4), b1 = ld4(b + g * 32 + t * 4 + 16);
  const uint16_t* c = C + (size_t)tile * 128;
  uint32_t c0 = (uint32_t)c[g * 8 + 2 * t] | ((uint32_t)c[g * 8 + 2 * t + 1] << 16);
  uint32_t c1 = (uint32_t)c[(g + 8) * 8 + 2 * t] | ((uint32_t)c[(g + 8) * 8 + 2 * t + 1] << 16);
  uint32_t d0, d1;
  if (E5M2)
    asm volatile("mma.sync.aligned.m16n8k32.row.col.f16.e5m2.e5m2.f16 {%0,%1}, {%2,%3,%4,%5}, {%6,%7}, {%8,%9};\n"
                 : "=r"(d0), "=r"(d1) : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(c0), "r"(c1));
  else
    asm volatile("mma.sync.aligned.m16n8k32.row.col.f16.e4m3.e4m3.f16 {%0,%1}, {%2,%3,%4,%5}, {%6,%7}, {%8,%9};\n"
                 : "=r"(d0), "=r"(d1) : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(c0), "r"(c1));
  uint16_t* d = D + (size_t)tile * 128;
  d[g * 8 + 2 * t] = d0 & 0xffff; d[g * 8 + 2 * t + 1] = d0 >> 16;
  d[(g + 8) * 8 + 2 * t] = d1 & 0xffff; d[(g + 8) * 8 + 2 * t + 1] = d1 >> 16;
}

// A finite FP8 code (no NaN; e5m2 also no Inf), biased toward normal magnitudes near 1.
static uint8_t fp8(bool e5m2) {
  for (;;) {
    uint8_t v = (uint8_t)rnd();
    uint8_t mag = v & 0x7f;
    if (!e5m2 && mag == 0x7f) continue;
    if (e5m2 && mag >= 0x7c) continue;
    // Keep the exponent field within a few binades of 1 most of the time.
    int ebits = e5m2 ? 5 : 4, bias = e5m2 ? 15 : 7, mbits = e5m2 ? 2 : 3;
    if (rint_(4) != 0) {
      int e = bias - 3 + (int)rint_(7);
      mag = (uint8_t)((e << mbits) | (v & ((1 << mbits) - 1)));
      (void)ebits;
    }
    return (uint8_t)((v & 0x80) | mag);
  }
}
static uint8_t fp8_small_int(int n, bool e5m2) {  // n in -4..4
  static const uint8_t e4[5] = {0x00, 0x38, 0x40, 0x44, 0x48}, e5[5] = {0x00, 0x3c, 0x40, 0x42, 0x44};
  uint8_t m = (e5m2 ? e5 : e4)[n < 0 ? -n : n];
  return (uint8_t)(n < 0 ? (m | 0x80) : m);
}
static uint16_t f16_random() {  // |c| in about 2^-6 .. 2^6, random sign and mantissa
  uint32_t e = 9 + rint_(13);
  return (uint16_t)(((uint32_t)rint_(2) << 15) | (e << 10) | rint_(1024));
}

int main(int argc, char** argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s OUTDIR [tiles] [seed]\n", argv[0]); return 2; }
  std::string out = argv[1];
  int tiles = argc > 2 ? atoi(argv[2]) : 64;
  g_state = argc > 3 ? strtoull(argv[3], 0, 10) : 1;
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  printf("gpu: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  for (int e5 = 0; e5 < 2; e5++) {
    const char* t = e5 ? "e5m2" : "e4m3";
    // Layout check on small integers (exact in f16 whatever the rule).
    for (int set = -1; set < 5; set++) {
      int T = set < 0 ? 4 : tiles;
      std::vector<uint8_t> A((size_t)T * 512), B((size_t)T * 256);
      std::vector<uint16_t> C((size_t)T * 128), D(C.size());
      for (int tt = 0; tt < T; tt++) {
        for (int r = 0; r < 16; r++) {
          int k1 = rint_(32), k2 = (k1 + 1 + rint_(31)) % 32;
          for (int k = 0; k < 32; k++) {
            uint8_t v;
            if (set < 0) v = fp8_small_int((int)rint_(9) - 4, e5);
            else if (set == 1) v = k == k1 ? fp8(e5) : 0;
            else if (set == 2 || set == 3) v = (k == k1 || k == k2) ? fp8(e5) : 0;
            else v = fp8(e5);
            A[tt * 512 + r * 32 + k] = v;
          }
        }
        for (int i = 0; i < 256; i++) B[tt * 256 + i] = set < 0 ? fp8_small_int((int)rint_(9) - 4, e5) : fp8(e5);
        for (int i = 0; i < 128; i++) {
          uint16_t c = 0;
          if (set < 0) c = __half_as_ushort(__float2half((float)((int)rint_(9) - 4)));
          else if (set == 1 || set == 3 || set == 4) c = f16_random();
          C[tt * 128 + i] = c;
        }
      }
      uint8_t *dA, *dB; uint16_t *dC, *dD;
      CK(cudaMalloc(&dA, A.size())); CK(cudaMalloc(&dB, B.size()));
      CK(cudaMalloc(&dC, C.size() * 2)); CK(cudaMalloc(&dD, D.size() * 2));
      CK(cudaMemcpy(dA, A.data(), A.size(), cudaMemcpyHostToDevice));
      CK(cudaMemcpy(dB, B.data(), B.size(), cudaMemcpyHostToDevice));
      CK(cudaMemcpy(dC, C.data(), C.size() * 2, cudaMemcpyHostToDevice));
      int blocks = (T + 3) / 4;
      if (e5) k_mma_f16<1><<<blocks, 128>>>(dA, dB, dC, dD, T);
      else k_mma_f16<0><<<blocks, 128>>>(dA, dB, dC, dD, T);
      CK(cudaDeviceSynchronize());
      CK(cudaMemcpy(D.data(), dD, D.size() * 2, cudaMemcpyDeviceToHost));
      cudaFree(dA); cudaFree(dB); cudaFree(dC); cudaFree(dD);
      if (set < 0) {
        // Small integers: every sum is exact in f16; compare with the host's exact value.
        auto val = [&](uint8_t v) {
          int n = 0;
          for (int i = -4; i <= 4; i++) if (fp8_small_int(i, e5) == v) n = i;
          return n;
        };
        int bad = 0;
        for (int tt = 0; tt < T; tt++)
          for (int r = 0; r < 16; r++)
            for (int n = 0; n < 8; n++) {
              int s = (int)__half2float(__ushort_as_half(C[tt * 128 + r * 8 + n]));
              for (int k = 0; k < 32; k++) s += val(A[tt * 512 + r * 32 + k]) * val(B[tt * 256 + n * 32 + k]);
              if ((float)s != __half2float(__ushort_as_half(D[tt * 128 + r * 8 + n]))) bad++;
            }
        printf("%s layout check: %d of %d differ\n", t, bad, T * 128);
        if (bad) return 1;
        continue;
      }
      static const char* names[5] = {"c0", "one", "two-c0", "two", "rand"};
      std::string path = out + "/hopper_mma_f16_" + t + "_" + names[set] + ".txt";
      FILE* f = fopen(path.c_str(), "w");
      fprintf(f, "# mma.sync.aligned.m16n8k32.row.col.f16.%s.%s.f16 on %s, gpu/f16out_probe.cu, set %s, seed %s\n",
              t, t, prop.name, names[set], argc > 3 ? argv[3] : "1");
      for (int tt = 0; tt < T; tt++)
        for (int r = 0; r < 16; r++)
          for (int n = 0; n < 8; n++) {
            fprintf(f, "hopper/mma.sync.aligned.m16n8k32.row.col.f16.%s.%s.f16 ", t, t);
            for (int k = 0; k < 32; k++) fprintf(f, "%02X", A[tt * 512 + r * 32 + k]);
            fprintf(f, " ");
            for (int k = 0; k < 32; k++) fprintf(f, "%02X", B[tt * 256 + n * 32 + k]);
            fprintf(f, " - - %04X %04X\n", C[tt * 128 + r * 8 + n], D[tt * 128 + r * 8 + n]);
          }
      fclose(f);
      printf("wrote %s: %d cases\n", path.c_str(), T * 128);
    }
  }
  return 0;
}
