/* A workload with one hot function, for the flame-graph tests: built with frame pointers
 * so user stacks unwind. `hot_spin` takes about 90 % of the time, `cold_spin` the rest.
 * Runs for argv[1] milliseconds (default 1500). */
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) void hot_spin(void) {
    for (int i = 0; i < 900000; i++) sink += i;
}

__attribute__((noinline)) void cold_spin(void) {
    for (int i = 0; i < 100000; i++) sink += i;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    double until = now_ms() + (argc > 1 ? atof(argv[1]) : 1500);
    while (now_ms() < until) {
        hot_spin();
        cold_spin();
    }
    return 0;
}
