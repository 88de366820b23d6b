// C++ uprobe test program: two overloads of ns::fn, each called once.
#include <unistd.h>
namespace ns {
__attribute__((noinline)) int fn(int x) { return x * 2; }
__attribute__((noinline)) int fn(long x) { return (int)x * 3; }
}
int main() { int t = ns::fn(3) + ns::fn(4L); getppid(); return t & 1; }
