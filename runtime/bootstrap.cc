#include "runtime/bootstrap.h"
