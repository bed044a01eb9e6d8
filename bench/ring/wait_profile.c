/* Exposed communication of the ring: the time each rank spends in MPI_Wait
 * (the transfers its computation did not hide, plus waiting for slower
 * ranks). Preloaded into attn-run by bench/ring.py (LD_PRELOAD, PMPI). Only
 * the timed calls count: attn-run --bench starts each of them at a barrier,
 * and the first barrier comes after the untimed first call (which also
 * sets up the shared-memory transport). At MPI_Finalize each rank prints
 * "ring_wait rank=R ms=T calls=N". */
#include <mpi.h>
#include <stdio.h>
#include <time.h>

static double waited_ms;
static long calls;
static int timing;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

int MPI_Wait(MPI_Request *request, MPI_Status *status) {
  double start = now_ms();
  int rc = PMPI_Wait(request, status);
  if (timing) {
    waited_ms += now_ms() - start;
    ++calls;
  }
  return rc;
}

int MPI_Barrier(MPI_Comm comm) {
  timing = 1;
  return PMPI_Barrier(comm);
}

int MPI_Finalize(void) {
  int rank = 0;
  PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
  fprintf(stderr, "ring_wait rank=%d ms=%.3f calls=%ld\n", rank, waited_ms,
          calls);
  return PMPI_Finalize();
}
