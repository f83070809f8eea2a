// The `myriad` command: see launcher/cli.h.
#include "launcher/cli.h"

int main(int argc, char** argv) {
  return myriad::launcher::run_cli(argc, argv);
}
