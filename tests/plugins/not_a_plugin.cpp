// A shared library without the baton plugin symbols.
extern "C" __attribute__((visibility("default"))) int baton_test_not_a_plugin() { return 42; }
