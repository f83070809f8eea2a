// Fixture kernels: the leaf layer.
#pragma once
int fx_reduce(int a, int b);
