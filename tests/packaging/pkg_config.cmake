# Builds and runs a program with the flags of `pkg-config --cflags --libs
# baton-sqlite` from a moved scratch install.
#   cmake -DBATON_BUILD_DIR=... -DWORK_DIR=... -DSOURCE=main.cpp -DCXX_COMPILER=...
#         -DPKG_CONFIG=... [-DSANITIZE_FLAGS=...] -P pkg_config.cmake
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
install_moved(prefix)
file(GLOB pcdirs ${prefix}/lib*/pkgconfig)
foreach(pc baton-core baton-sqlite)
  file(GLOB found ${prefix}/lib*/pkgconfig/${pc}.pc)
  if(NOT found)
    message(FATAL_ERROR "${pc}.pc is not installed")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E env "PKG_CONFIG_PATH=${pcdirs}"
                        ${PKG_CONFIG} --cflags --libs baton-sqlite
                RESULT_VARIABLE rc OUTPUT_VARIABLE flags ERROR_VARIABLE err
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs baton-sqlite failed (${rc}): ${err}")
endif()
message(STATUS "pkg-config --cflags --libs baton-sqlite: ${flags}")
separate_arguments(flags UNIX_COMMAND "${flags}")
separate_arguments(sanitize UNIX_COMMAND "${SANITIZE_FLAGS}")
run(compile ${CXX_COMPILER} -std=c++20 ${sanitize} ${SOURCE} -o ${WORK_DIR}/program ${flags})
# libbaton_core.so is found through LD_LIBRARY_PATH, as a system install
# would find it in the default search path.
file(GLOB libdirs LIST_DIRECTORIES true ${prefix}/lib*)
list(JOIN libdirs ":" libpath)
run(run ${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${libpath}" ${WORK_DIR}/program ${WORK_DIR}/locks.db)
