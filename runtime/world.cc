#include "runtime/world.h"
