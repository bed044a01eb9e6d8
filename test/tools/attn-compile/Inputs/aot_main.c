/* Calls the attn-compile output of aot.mlir from plain C: inputs
 * x[n] = sin(0.37 n + c) per array, results written raw (float32) to the
 * files named on the command line. Built against attn-compile's header
 * only; linked without libMLIR or libLLVM. With ATTN_CUDA the buffers are
 * CUDA managed memory (attnCudaAlloc). */
#include "aot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static float *buffer(size_t n) {
#ifdef ATTN_CUDA
  return (float *)attnCudaAlloc(n * sizeof(float));
#else
  return (float *)malloc(n * sizeof(float));
#endif
}

static attn_memref_4d_f32 tensor4(int64_t b, int64_t h, int64_t s, int64_t d,
                                  float c) {
  size_t n = (size_t)(b * h * s * d);
  float *data = buffer(n);
  for (size_t i = 0; i < n; ++i)
    data[i] = sinf(0.37f * (float)i + c);
  attn_memref_4d_f32 m = {data, data, 0, {b, h, s, d},
                          {h * s * d, s * d, d, 1}};
  return m;
}

static int write(const char *path, const float *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, sizeof(float), n, f) != n)
    return 1;
  return fclose(f);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: aot_main OUT.f32 LSE.f32\n");
    return 2;
  }
  attn_memref_4d_f32 q = tensor4(1, 2, 33, 16, 0.0f);
  attn_memref_4d_f32 k = tensor4(1, 1, 40, 16, 1.0f);
  attn_memref_4d_f32 v = tensor4(1, 1, 40, 8, 2.0f);
  attn_attention_results r;
  if (attn_attention(&r, &q, &k, &v) != 0) {
    fprintf(stderr, "%s\n", attn_last_error());
    return 1;
  }
#ifdef ATTN_CUDA
  attnCudaSynchronize();
#endif
  const float *o = r.r0.aligned + r.r0.offset;
  const float *lse = r.r1.aligned + r.r1.offset;
  if (write(argv[1], o, 2 * 33 * 8) || write(argv[2], lse, 2 * 33))
    return 1;
  printf("aot: ran, o[0]=%g\n", o[0]);
  return 0;
}
