/* Calls the checked entry points of aot_checked.mlir with good and bad
 * arguments and prints each status and attn_last_error() (aot-checks.test).
 * Plain C against attn-compile's header; @main is attn_main, so this main
 * links. */
#include "checked.h"

#include <stdio.h>
#include <stdlib.h>

static attn_memref_4d_f32 t4(int64_t b, int64_t h, int64_t s, int64_t d) {
  float *data = calloc((size_t)(b * h * s * d) + 1, sizeof(float));
  for (int64_t i = 0; i < b * h * s * d; ++i)
    data[i] = (float)(i % 7) * 0.25f;
  attn_memref_4d_f32 m = {data, data, 0, {b, h, s, d}, {h * s * d, s * d, d, 1}};
  return m;
}

static attn_memref_1d_i32 t1(const int32_t *values, int64_t n) {
  int32_t *data = calloc((size_t)n + 1, sizeof(int32_t));
  for (int64_t i = 0; i < n; ++i)
    data[i] = values[i];
  attn_memref_1d_i32 m = {data, data, 0, {n}, {1}};
  return m;
}

static void report(const char *what, int32_t status) {
  printf("%s: status %d: %s\n", what, status, attn_last_error());
}

static void mainCase(const char *what, attn_memref_4d_f32 q,
                     attn_memref_4d_f32 k, attn_memref_4d_f32 v) {
  attn_memref_4d_f32 o;
  report(what, attn_main(&o, &q, &k, &v));
}

static void graphCase(const char *what, const int32_t *rp, int64_t nrp,
                      const int32_t *cols, int64_t ncols) {
  attn_memref_4d_f32 q = t4(1, 2, 3, 16), k = t4(1, 1, 4, 16),
                     v = t4(1, 1, 4, 16), o;
  attn_memref_1d_i32 r = t1(rp, nrp), c = t1(cols, ncols);
  report(what, attn_graph(&o, &q, &k, &v, &r, &c));
}

int main(void) {
  mainCase("good", t4(2, 4, 5, 16), t4(2, 2, 7, 16), t4(2, 2, 7, 8));
  mainCase("batch 4 vs 1", t4(4, 4, 5, 16), t4(1, 2, 7, 16), t4(1, 2, 7, 8));
  mainCase("batch 2 vs 3", t4(2, 4, 5, 16), t4(3, 2, 7, 16), t4(3, 2, 7, 8));
  mainCase("keys 7 vs values 6", t4(1, 4, 5, 16), t4(1, 2, 7, 16),
           t4(1, 2, 6, 8));
  mainCase("static heads", t4(1, 3, 5, 16), t4(1, 2, 7, 16), t4(1, 2, 7, 8));
  attn_memref_4d_f32 strided = t4(1, 4, 5, 16);
  strided.strides[2] = 32;
  mainCase("strides", strided, t4(1, 2, 7, 16), t4(1, 2, 7, 8));
  attn_memref_4d_f32 negative = t4(1, 4, 5, 16);
  negative.sizes[2] = -5;
  mainCase("negative", negative, t4(1, 2, 7, 16), t4(1, 2, 7, 8));
  attn_memref_4d_f32 null = t4(1, 4, 5, 16);
  null.aligned = 0;
  mainCase("null data", null, t4(1, 2, 7, 16), t4(1, 2, 7, 8));
  attn_memref_4d_f32 huge = t4(1, 4, 5, 16);
  huge.sizes[0] = (int64_t)1 << 62;
  huge.strides[0] = 4 * 5 * 16;
  mainCase("overflow", huge, t4(1, 2, 7, 16), t4(1, 2, 7, 8));
  {
    attn_memref_4d_f32 q = t4(1, 4, 5, 16), k = t4(1, 2, 7, 16), o;
    report("null descriptor", attn_main(&o, &q, &k, 0));
  }

  const int32_t rp[] = {0, 1, 3, 4}, cols[] = {0, 1, 2, 3};
  graphCase("csr good", rp, 4, cols, 4);
  graphCase("csr row_ptr length", rp, 3, cols, 4);
  const int32_t rpStart[] = {1, 1, 3, 4};
  graphCase("csr start", rpStart, 4, cols, 4);
  const int32_t rpDown[] = {0, 3, 1, 4};
  graphCase("csr decreasing", rpDown, 4, cols, 4);
  const int32_t rpOver[] = {0, 1, 9, 9};
  graphCase("csr beyond", rpOver, 4, cols, 4);
  const int32_t colsFar[] = {0, 1, 9, 3};
  graphCase("csr column", rp, 4, colsFar, 4);
  const int32_t colsUnsorted[] = {0, 2, 1, 3};
  graphCase("csr unsorted", rp, 4, colsUnsorted, 4);
  const int32_t rpShort[] = {0, 1, 3, 3};
  graphCase("csr end", rpShort, 4, cols, 4);

  {
    attn_memref_4d_f32 q = t4(1, 1, 4, 16), k = t4(1, 1, 5, 16),
                       v = t4(1, 1, 5, 16), o;
    int32_t *ind = calloc(8, sizeof(int32_t));
    ind[5] = 9;
    ind[6] = -1;
    attn_memref_4d_i32 i = {ind, ind, 0, {1, 1, 4, 2}, {8, 8, 2, 1}};
    report("indices", attn_lists(&o, &q, &k, &v, &i));
    ind[5] = 4;
    report("indices good", attn_lists(&o, &q, &k, &v, &i));
  }

  attn_set_num_threads(1);
  mainCase("one thread", t4(1, 4, 5, 16), t4(1, 2, 7, 16), t4(1, 2, 7, 8));
  return 0;
}
