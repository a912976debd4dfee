// The doctest main of the example's test programs. They need the server in
// SANDPOOL_TEST_DSN; with SANDPOOL_SKIP_INTEGRATION=1 they exit with 77,
// which meson reports as skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <string_view>

int main(int argc, char** argv) {
  const char* skip = std::getenv("SANDPOOL_SKIP_INTEGRATION");
  if (skip != nullptr && std::string_view(skip) == "1") return 77;
  doctest::Context context(argc, argv);
  return context.run();
}
