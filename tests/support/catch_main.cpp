// main() for test programs that need nothing before Catch2's session.
#include "catch_session.hpp"

int main(int argc, char** argv) { return baton::test::run_catch_session(argc, argv); }
