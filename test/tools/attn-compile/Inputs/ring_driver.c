/* attn-compile's ring object inside an existing MPI program: the program
 * owns MPI_Init/Finalize, draws the global Q, K, V (and, with the argument
 * "grad", the output's cotangent dO; deterministic, the same on every rank),
 * hands each rank its zigzag shard to attn_causal (or attn_causal_grad),
 * gathers the results on rank 0 and compares them with causal softmax
 * attention (or its gradients dQ, dK, dV) computed here in double. Exit 0
 * iff every element agrees to 1e-4. Built by ring.test against
 * ring-causal.mlir (shards of 1x2x48x16), with -DRING_GRAD for an object
 * compiled with --grad. */
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

/* Causal attention over the global sequence of s positions in double:
 * out[0] = O, and with grad out[1..3] = dQ, dK, dV for the cotangent dO
 * (tensor 3); each [H][s][D]. */
static void reference(long s, int grad, double *out[4]) {
  double scale = 1.0 / sqrt((double)D);
  double *p = malloc(sizeof(double) * s), *dp = malloc(sizeof(double) * s);
  for (int t = 0; t < 4; ++t)
    memset(out[t], 0, sizeof(double) * H * s * D);
#define AT(t, h, i, d) value(t, (((long)(h) * s + (i)) * D + (d)))
#define IDX(h, i, d) ((((long)(h) * s + (i)) * D) + (d))
  for (int h = 0; h < H; ++h)
    for (long i = 0; i < s; ++i) {
      double mx = -INFINITY, sum = 0, delta = 0;
      for (long j = 0; j <= i; ++j) {
        double dot = 0;
        for (int d = 0; d < D; ++d)
          dot += (double)AT(0, h, i, d) * AT(1, h, j, d);
        p[j] = dot * scale;
        mx = p[j] > mx ? p[j] : mx;
      }
      for (long j = 0; j <= i; ++j)
        sum += (p[j] = exp(p[j] - mx));
      for (long j = 0; j <= i; ++j)
        p[j] /= sum;
      for (int d = 0; d < D; ++d) {
        for (long j = 0; j <= i; ++j)
          out[0][IDX(h, i, d)] += p[j] * AT(2, h, j, d);
        delta += AT(3, h, i, d) * out[0][IDX(h, i, d)];
      }
      if (!grad)
        continue;
      /* dS_ij = P_ij (dO_i . V_j - dO_i . O_i) */
      for (long j = 0; j <= i; ++j) {
        double dot = 0;
        for (int d = 0; d < D; ++d)
          dot += (double)AT(3, h, i, d) * AT(2, h, j, d);
        dp[j] = p[j] * (dot - delta);
      }
      for (long j = 0; j <= i; ++j)
        for (int d = 0; d < D; ++d) {
          out[1][IDX(h, i, d)] += scale * dp[j] * AT(1, h, j, d);
          out[2][IDX(h, j, d)] += scale * dp[j] * AT(0, h, i, d);
          out[3][IDX(h, j, d)] += p[j] * AT(3, h, i, d);
        }
    }
#undef AT
#undef IDX
  free(p);
  free(dp);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int grad = argc > 1 && strcmp(argv[1], "grad") == 0;
  int rank, p;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  long s = (long)N * p;
  float *shard[4];
  attn_memref_4d_f32 in[4];
  for (int t = 0; t < 4; ++t) {
    shard[t] = malloc(sizeof(float) * H * N * D);
    for (int h = 0; h < H; ++h)
      for (long i = 0; i < N; ++i)
        for (int d = 0; d < D; ++d)
          shard[t][(h * N + i) * D + d] =
              value(t, (h * s + global_position(p, rank, i)) * D + d);
    in[t] = describe(shard[t], N);
  }
  /* Results: O, or dQ, dK, dV. */
  attn_memref_4d_f32 res[3];
  int numResults = grad ? 3 : 1;
#ifdef RING_GRAD /* the object was compiled with --grad */
  int rc = grad ? attn_causal_grad((attn_causal_grad_results *)res, &in[0],
                                   &in[1], &in[2], &in[3])
                : attn_causal(&res[0], &in[0], &in[1], &in[2]);
#else
  int rc = grad ? -1 : attn_causal(&res[0], &in[0], &in[1], &in[2]);
#endif
  if (rc != 0) {
    fprintf(stderr, "rank %d: %s\n", rank, attn_last_error());
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  double *expected[4];
  for (int t = 0; t < 4; ++t)
    expected[t] = rank == 0 ? malloc(sizeof(double) * H * s * D) : NULL;
  if (rank == 0)
    reference(s, grad, expected);
  double worst = 0;
  float *all = rank == 0 ? malloc(sizeof(float) * H * s * D) : NULL;
  for (int k = 0; k < numResults; ++k) {
    MPI_Gather(res[k].aligned, H * N * D, MPI_FLOAT, all, H * N * D, MPI_FLOAT,
               0, MPI_COMM_WORLD);
    double *want = expected[grad ? k + 1 : 0];
    if (rank == 0)
      for (int r = 0; r < p; ++r)
        for (int h = 0; h < H; ++h)
          for (long i = 0; i < N; ++i)
            for (int d = 0; d < D; ++d) {
              long gi = global_position(p, r, i);
              double got = all[((long)r * H * N + h * N + i) * D + d];
              double err = fabs(got - want[(h * s + gi) * D + d]);
              worst = err > worst ? err : worst;
            }
    free(res[k].allocated);
  }
  int bad = 0;
  if (rank == 0) {
    bad = !(worst <= 1e-4);
    printf("ring object%s: P=%d max error %.2e %s\n", grad ? " (gradient)" : "",
           p, worst, bad ? "FAIL" : "ok");
  }
  MPI_Finalize();
  return bad;
}
