/* Calls getpid() exactly N times (argv[1]) through the raw syscall, so libc caching
 * cannot hide calls, then getppid() once as an end marker. */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1;
    for (long i = 0; i < n; i++)
        syscall(SYS_getpid);
    syscall(SYS_getppid);
    return 0;
}
