/*
** cpu_load.c: how many of our cores other programs leave free.
**
** OpenMP teams and BLIS's threads wait for each other at every barrier, by
** spinning. When another program keeps one of two cores busy, the thread
** sharing its core runs half the time, in slices of milliseconds, and every
** barrier waits for it: an MNIST epoch went from 0.5 s to 49 s with two
** threads. So every 200 ms (on the next parallel call) we read how busy our
** cores were (/proc/stat, the lines of the CPUs we may run on), take away
** our own CPU time, and run on as many threads as there are cores the
** others left free: the full count on a quiet machine, one when the others
** fill all but one core. LUANN_ADAPT_THREADS=0 turns this off.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"

#define SAMPLE_NS 200000000LL

static struct {
  pthread_mutex_t lock;
  int enabled;              /* -1 until the environment is read */
  long long at_ns;          /* the last sample */
  double busy_s, own_s;     /* our cores' busy time, our own CPU time */
  double others;            /* cores the others kept busy, last interval */
  int procs;                /* omp_get_num_procs() at the last sample: it
                            ** asks the kernel (sched_getaffinity) */
} load = {PTHREAD_MUTEX_INITIALIZER, -1, 0, 0, 0, 0, 0};

static long long now_ns(int clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Seconds our CPUs spent busy since boot (steal included: a hypervisor's
** other guests take the core as surely), or -1 if /proc/stat is unreadable;
** *running gets the machine's runnable threads at this moment. */
static double cores_busy_seconds(int *running) {
  cpu_set_t mine;
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) return -1;
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  char line[512];
  unsigned long long busy = 0;
  *running = 1;
  while (fgets(line, sizeof line, f)) {
    int cpu;
    unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
    if (sscanf(line, "procs_running %d", running) == 1) break;
    if (strncmp(line, "cpu", 3) != 0) continue;
    if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu,
               &user, &nice, &sys, &idle, &iowait, &irq, &softirq,
               &steal) != 9)
      continue; /* the "cpu " total line */
    if (cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &mine))
      busy += user + nice + sys + irq + softirq + steal;
  }
  fclose(f);
  return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

/* How many of this process's threads are runnable now (state R in
** /proc/self/task/<tid>/stat), at least 1: an OpenMP worker still spinning
** after a parallel region is one of ours, not another program's. */
static int own_running_threads(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return 1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%.20s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    const char *name_end = strrchr(buf, ')'); /* the name may hold spaces */
    if (name_end && name_end[1] == ' ' && name_end[2] == 'R') n++;
  }
  closedir(d);
  return n > 0 ? n : 1;
}

/* Takes a sample if the last one is old enough; the lock is held. */
static void sample_locked(void) {
  long long t = now_ns(CLOCK_MONOTONIC);
  if (load.at_ns && t - load.at_ns < SAMPLE_NS) return;
  int running;
  double busy = cores_busy_seconds(&running);
  double own = (double)now_ns(CLOCK_PROCESS_CPUTIME_ID) / 1e9;
  if (busy < 0) {
    load.enabled = 0; /* no /proc: keep the full count */
    return;
  }
  if (!load.at_ns) { /* no interval yet: what is runnable now, but ours */
    int mine = own_running_threads();
    load.others = running > mine ? running - mine : 0;
  } else {
    double wall = (double)(t - load.at_ns) / 1e9;
    double others = ((busy - load.busy_s) - (own - load.own_s)) / wall;
    load.others = others > 0 ? others : 0;
  }
  load.at_ns = t, load.busy_s = busy, load.own_s = own;
  load.procs = omp_get_num_procs();
}

int cpu_free_threads(int want) {
  if (want < 1) want = 1;
  pthread_mutex_lock(&load.lock);
  if (load.enabled < 0) {
    const char *v = getenv("LUANN_ADAPT_THREADS");
    load.enabled = !(v && strcmp(v, "0") == 0);
  }
  int n = want;
  if (load.enabled && want > 1) {
    sample_locked();
    /* A quarter core of slack, no more: busy neighbours get less CPU
    ** while we compete with them, so what they used undercounts what they
    ** want, and a team that waits on a shared core loses far more than
    ** one thread fewer costs. */
    double free_cores = (double)load.procs - load.others;
    int k = (int)(free_cores + 0.25);
    n = k < 1 ? 1 : k < want ? k : want;
  }
  pthread_mutex_unlock(&load.lock);
  if (omp_get_max_threads() != n) omp_set_num_threads(n); /* for every other loop */
  return n;
}

int ln_cpu_threads_now(void) { return cpu_free_threads(ln_get_num_threads()); }
