// NVIDIA's float -> FP8/FP6/FP4/E8M0 conversions (cuda_fp8.h, cuda_fp6.h, cuda_fp4.h of the
// CUDA toolkit), over every f32 bit pattern, on the GPU.
//
// Build and run:  nvcc -O3 -arch=sm_90 -o cvt_probe gpu/cvt_probe.cu && ./cvt_probe OUTDIR
//
// It writes OUTDIR/cvt_samples.bin: for every mode below, in order, the output byte of the
// inputs i * 4096 + 2049 for i = 0 .. 2^20 - 1 (a strided subset), and prints one line
//   <mode> fnv=<hash> over all 2^32 inputs
// where the hash is FNV-1a (64-bit) over the 1024 chunk hashes (in order), each chunk hash the
// FNV-1a of the output bytes of 2^22 consecutive inputs (in input order). tests/cuda_cvt.rs
// recomputes both with gridgames' `cuda-*` policies (the exhaustive hash behind
// GRIDGAMES_EXHAUSTIVE=1).
#include <cuda_fp4.h>
#include <cuda_fp6.h>
#include <cuda_fp8.h>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

enum Mode {
  E4M3_SAT, E4M3_NOSAT, E5M2_SAT, E5M2_NOSAT,
  E8M0_RZ_SAT, E8M0_RZ_NOSAT, E8M0_RP_SAT, E8M0_RP_NOSAT,
  E2M1_RN, E2M1_RZ, E2M3_RN, E2M3_RZ, E3M2_RN, E3M2_RZ, NMODES
};
static const char* NAMES[NMODES] = {
  "e4m3-satfinite-rn", "e4m3-nosat-rn", "e5m2-satfinite-rn", "e5m2-nosat-rn",
  "ue8m0-satfinite-rz", "ue8m0-nosat-rz", "ue8m0-satfinite-rp", "ue8m0-nosat-rp",
  "e2m1-satfinite-rn", "e2m1-satfinite-rz", "e2m3-satfinite-rn", "e2m3-satfinite-rz",
  "e3m2-satfinite-rn", "e3m2-satfinite-rz"};

__device__ __forceinline__ uint8_t convert(int mode, uint32_t bits) {
  float x = __uint_as_float(bits);
  switch (mode) {
    case E4M3_SAT: return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
    case E4M3_NOSAT: return __nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E4M3);
    case E5M2_SAT: return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2);
    case E5M2_NOSAT: return __nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E5M2);
    case E8M0_RZ_SAT: return __nv_cvt_float_to_e8m0(x, __NV_SATFINITE, cudaRoundZero);
    case E8M0_RZ_NOSAT: return __nv_cvt_float_to_e8m0(x, __NV_NOSAT, cudaRoundZero);
    case E8M0_RP_SAT: return __nv_cvt_float_to_e8m0(x, __NV_SATFINITE, cudaRoundPosInf);
    case E8M0_RP_NOSAT: return __nv_cvt_float_to_e8m0(x, __NV_NOSAT, cudaRoundPosInf);
    case E2M1_RN: return __nv_cvt_float_to_fp4(x, __NV_E2M1, cudaRoundNearest);
    case E2M1_RZ: return __nv_cvt_float_to_fp4(x, __NV_E2M1, cudaRoundZero);
    case E2M3_RN: return __nv_cvt_float_to_fp6(x, __NV_E2M3, cudaRoundNearest);
    case E2M3_RZ: return __nv_cvt_float_to_fp6(x, __NV_E2M3, cudaRoundZero);
    case E3M2_RN: return __nv_cvt_float_to_fp6(x, __NV_E3M2, cudaRoundNearest);
    default: return __nv_cvt_float_to_fp6(x, __NV_E3M2, cudaRoundZero);
  }
}

constexpr uint64_t FNV_OFFSET = 0xcbf29ce484222325ull, FNV_PRIME = 0x100000001b3ull;
constexpr int CHUNKS = 1024;            // 2^32 / 2^22
constexpr uint32_t CHUNK = 1u << 22;
constexpr int SAMPLES = 1 << 20;

__global__ void hash_chunks(int mode, uint64_t* hashes) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= CHUNKS) return;
  uint64_t h = FNV_OFFSET;
  uint32_t base = (uint32_t)c * CHUNK;
  for (uint32_t i = 0; i < CHUNK; i++) {
    h ^= convert(mode, base + i);
    h *= FNV_PRIME;
  }
  hashes[c] = h;
}

__global__ void samples(int mode, uint8_t* out) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < SAMPLES) out[i] = convert(mode, (uint32_t)i * 4096u + 2049u);
}

#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { \
  fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

int main(int argc, char** argv) {
  std::string out = argc > 1 ? argv[1] : ".";
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  int drv = 0, rt = 0;
  cudaDriverGetVersion(&drv);
  cudaRuntimeGetVersion(&rt);
  printf("gpu: %s (sm_%d%d), CUDA driver API %d, runtime %d\n", prop.name, prop.major, prop.minor, drv, rt);
  uint64_t* d_h; uint8_t* d_s;
  CK(cudaMalloc(&d_h, CHUNKS * sizeof(uint64_t)));
  CK(cudaMalloc(&d_s, SAMPLES));
  std::vector<uint64_t> h(CHUNKS);
  std::vector<uint8_t> s((size_t)NMODES * SAMPLES);
  for (int m = 0; m < NMODES; m++) {
    hash_chunks<<<CHUNKS / 128, 128>>>(m, d_h);
    samples<<<SAMPLES / 256, 256>>>(m, d_s);
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(h.data(), d_h, CHUNKS * sizeof(uint64_t), cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(s.data() + (size_t)m * SAMPLES, d_s, SAMPLES, cudaMemcpyDeviceToHost));
    uint64_t total = FNV_OFFSET;
    for (int c = 0; c < CHUNKS; c++) {
      for (int b = 0; b < 8; b++) { total ^= (h[c] >> (8 * b)) & 0xff; total *= FNV_PRIME; }
    }
    printf("%s fnv=%016llx over all 2^32 inputs\n", NAMES[m], (unsigned long long)total);
  }
  std::string path = out + "/cvt_samples.bin";
  FILE* f = fopen(path.c_str(), "wb");
  if (!f) { perror(path.c_str()); return 1; }
  fwrite(s.data(), 1, s.size(), f);
  fclose(f);
  return 0;
}
