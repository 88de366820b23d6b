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

int main(void) {
  char n[8] = "abc";
  long t = 0;
  for (int i = 0; i < 2; i++)
    t += add(i, -5, n, 7);
  struct point p = {1, 2};
  t += takes_struct(p, 3);
  getppid();
  return (int)t & 1;
}
