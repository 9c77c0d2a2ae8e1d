# Configures, builds and runs sqlite_consumer/ (baton::core + baton::sqlite)
# against a moved scratch install, with a find root that holds only that
# install and SQLite3 and nlohmann_json: libpq, hiredis and Catch2 cannot be
# found, so a core+sqlite user is shown to need none of them. Then asks for
# each component whose dependency is hidden and expects a clear failure.
#   cmake -DBATON_BUILD_DIR=... -DWORK_DIR=... -DCONSUMER_SOURCE_DIR=...
#         -DSQLITE_INCLUDE_DIR=... -DSQLITE_LIBRARY=... -DNLOHMANN_JSON_DIR=...
#         [-DGENERATOR=...] [-DCXX_COMPILER=...] [-DBUILD_TYPE=...]
#         [-DSANITIZE_FLAGS=...] [-DCOMPONENTS_BUILT=...] -P restricted_consumer.cmake
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
install_moved(prefix)

# The root of everything findable besides the install: symbolic links to
# SQLite3's header and library and to nlohmann_json's package and headers.
set(root ${WORK_DIR}/root)
file(MAKE_DIRECTORY ${root}/include ${root}/lib ${root}/share/cmake)
get_filename_component(sqlite_lib_name ${SQLITE_LIBRARY} NAME)
file(CREATE_LINK ${SQLITE_INCLUDE_DIR}/sqlite3.h ${root}/include/sqlite3.h SYMBOLIC)
file(CREATE_LINK ${SQLITE_LIBRARY} ${root}/lib/${sqlite_lib_name} SYMBOLIC)
file(CREATE_LINK ${NLOHMANN_JSON_DIR} ${root}/share/cmake/nlohmann_json SYMBOLIC)
# The headers, where nlohmann_json's package (three levels up) looks.
find_path(json_include nlohmann/json.hpp HINTS ${NLOHMANN_JSON_DIR}/../../../include)
file(CREATE_LINK ${json_include}/nlohmann ${root}/include/nlohmann SYMBOLIC)

# In an initial cache file: the root path is a list.
file(WRITE ${WORK_DIR}/restrict.cmake "
set(CMAKE_FIND_ROOT_PATH \"${root};${prefix}\" CACHE STRING \"\")
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY CACHE STRING \"\")
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY CACHE STRING \"\")
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY CACHE STRING \"\")
set(CMAKE_FIND_USE_PACKAGE_REGISTRY OFF CACHE BOOL \"\")
")
set(common_args -C ${WORK_DIR}/restrict.cmake)
if(GENERATOR)
  list(APPEND common_args -G ${GENERATOR})
endif()
if(CXX_COMPILER)
  list(APPEND common_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(BUILD_TYPE)
  list(APPEND common_args -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
if(SANITIZE_FLAGS)
  list(APPEND common_args "-DCMAKE_CXX_FLAGS=${SANITIZE_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${SANITIZE_FLAGS}")
endif()

run(configure ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build ${common_args}
    -DBATON_CHECK_HIDDEN=ON)
run(build ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(run ${WORK_DIR}/build/sqlite_consumer ${WORK_DIR}/locks.db)

# Each of these components needs a dependency the root hides: find_package
# must fail and say which.
set(expect_postgres "libpq")
set(expect_redis "hiredis")
set(expect_conformance "Catch2")
foreach(component postgres redis conformance)
  if(NOT component IN_LIST COMPONENTS_BUILT)
    continue()
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build-${component}
                          ${common_args} -DBATON_COMPONENTS=core,${component}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "find_package(baton COMPONENTS core ${component}) succeeded without its dependency")
  endif()
  if(NOT err MATCHES "component '${component}': it needs [^\n]*${expect_${component}}")
    message(FATAL_ERROR "find_package(baton COMPONENTS core ${component}) failed without naming "
                        "${expect_${component}}:\n${err}")
  endif()
  message(STATUS "COMPONENTS core ${component} without its dependency: not found, as expected")
endforeach()
