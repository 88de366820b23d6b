// DWARF arguments test program: built with -g, it calls add() twice and takes_struct()
// once, with known arguments.
#include <unistd.h>

struct point {
  int x, y;
};

__attribute__((noinline)) long add(int a, long b, const char *name, unsigned short c) {
  return a + b + c + name[0];
}

// An 8-byte struct travels in one register; `after` is in the next.
__attribute__((noinline)) int takes_struct(struct point p, int after) {
  return p.x + after;
}

struct pair {
  long x, y;
};
struct big {
  long a, b, c;
};

// `p` takes two registers, `d` an SSE register, `b` (over 16 bytes) the stack; `a`, `c`,
// `e`, `f` take the remaining four registers, and `g` and `s` follow `b` on the stack.
__attribute__((noinline, noipa)) long many(struct pair p, int a, double d, struct big b, long c,
                                           long e, long f, short g, const char *s) {
  return p.x + a + (long)d + b.c + c + e + f + g + s[0];
}

int main(void) {
  char n[8] = "abc";
  long t = 0;
  for (int i = 0; i < 2; i++)
    t += add(i, -5, n, 7);
  struct point p = {1, 2};
  t += takes_struct(p, 3);
  struct pair pr = {1, 2};
  struct big b = {3, 4, 5};
  t += many(pr, 10, 2.5, b, 11, 12, 13, -14, "stack");
  getppid();
  return (int)t & 1;
}
