/* attn-compile's ring object inside an existing MPI program: the program
 * owns MPI_Init/Finalize, draws the global Q, K, V (deterministic, the same
 * on every rank), hands each rank its zigzag shard to attn_causal, gathers
 * the outputs on rank 0 and compares them with causal softmax attention
 * computed here in double. Exit 0 iff every element agrees to 1e-4.
 * Built by ring.test against ring-causal.mlir (shards of 1x2x48x16). */
#include "ring_causal.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { H = 2, N = 48, D = 16 };

static float value(int tensor, long i) {
  return (float)sin(0.37 * (double)i + 1.3 * tensor);
}

static attn_memref_4d_f32 describe(float *data, int64_t length) {
  attn_memref_4d_f32 m = {data, data, 0, {1, H, length, D},
                          {H * length * D, length * D, D, 1}};
  return m;
}

/* Rank r's zigzag positions: chunks r and 2P-1-r of 2P, in that order. */
static long global_position(int p, int r, long local) {
  long m = N / 2;
  return local < m ? r * m + local : (2L * p - 1 - r) * m + (local - m);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, p;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  long s = (long)N * p;
  float *shard[3];
  for (int t = 0; t < 3; ++t) {
    shard[t] = malloc(sizeof(float) * H * N * D);
    for (int h = 0; h < H; ++h)
      for (long i = 0; i < N; ++i)
        for (int d = 0; d < D; ++d)
          shard[t][(h * N + i) * D + d] =
              value(t, (h * s + global_position(p, rank, i)) * D + d);
  }
  attn_memref_4d_f32 q = describe(shard[0], N), k = describe(shard[1], N),
                     v = describe(shard[2], N);
  attn_memref_4d_f32 out;
  if (attn_causal(&out, &q, &k, &v) != 0) {
    fprintf(stderr, "rank %d: %s\n", rank, attn_last_error());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  float *all = rank == 0 ? malloc(sizeof(float) * H * s * D) : NULL;
  MPI_Gather(out.aligned, H * N * D, MPI_FLOAT, all, H * N * D, MPI_FLOAT, 0,
             MPI_COMM_WORLD);
  int bad = 0;
  if (rank == 0) {
    double worst = 0, *w = malloc(sizeof(double) * s);
    for (int r = 0; r < p; ++r)
      for (int h = 0; h < H; ++h)
        for (long i = 0; i < N; ++i) {
          long gi = global_position(p, r, i);
          double mx = -INFINITY, sum = 0;
          for (long j = 0; j <= gi; ++j) {
            double dot = 0;
            for (int d = 0; d < D; ++d)
              dot += (double)value(0, (h * s + gi) * D + d) *
                     value(1, (h * s + j) * D + d);
            w[j] = dot / 4.0; /* 1/sqrt(D) */
            mx = w[j] > mx ? w[j] : mx;
          }
          for (long j = 0; j <= gi; ++j)
            sum += (w[j] = exp(w[j] - mx));
          for (int d = 0; d < D; ++d) {
            double o = 0;
            for (long j = 0; j <= gi; ++j)
              o += w[j] * value(2, (h * s + j) * D + d);
            double got = all[((long)r * H * N + h * N + i) * D + d];
            double err = fabs(got - o / sum);
            worst = err > worst ? err : worst;
          }
        }
    bad = !(worst <= 1e-4);
    printf("ring object: P=%d max error %.2e %s\n", p, worst,
           bad ? "FAIL" : "ok");
  }
  free(out.allocated);
  MPI_Finalize();
  return bad;
}
