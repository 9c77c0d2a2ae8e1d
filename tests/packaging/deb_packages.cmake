# Builds the Debian packages (`cpack -G DEB`) of a build tree and checks
# each one's files and Depends with dpkg-deb.
#   cmake -DBATON_BUILD_DIR=... -DWORK_DIR=... -DCPACK=... -DDPKG_DEB=...
#         -DVERSION=... -DSOVERSION=... -DWITH_CONFORMANCE=ON|OFF -P deb_packages.cmake
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
execute_process(COMMAND ${CPACK} --config ${BATON_BUILD_DIR}/CPackConfig.cmake -G DEB -B ${WORK_DIR}
                WORKING_DIRECTORY ${WORK_DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cpack -G DEB failed (${rc}):\n${out}\n${err}")
endif()

# check(<package> FILES <path>... DEPENDS <regex>...): the package's .deb
# holds each file (paths under /usr) and its Depends matches each regex.
function(check package)
  cmake_parse_arguments(arg "" "" "FILES;DEPENDS" ${ARGN})
  file(GLOB deb ${WORK_DIR}/${package}_*.deb)
  if(NOT deb)
    message(FATAL_ERROR "no ${package}_*.deb in ${WORK_DIR}")
  endif()
  execute_process(COMMAND ${DPKG_DEB} -c ${deb} OUTPUT_VARIABLE contents RESULT_VARIABLE rc1)
  execute_process(COMMAND ${DPKG_DEB} -f ${deb} Depends OUTPUT_VARIABLE depends RESULT_VARIABLE rc2)
  if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
    message(FATAL_ERROR "dpkg-deb failed on ${deb}")
  endif()
  foreach(path IN LISTS arg_FILES)
    string(FIND "${contents}" " ./usr/${path}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${package} lacks /usr/${path}; it holds:\n${contents}")
    endif()
  endforeach()
  foreach(regex IN LISTS arg_DEPENDS)
    if(NOT depends MATCHES "${regex}")
      message(FATAL_ERROR "${package}'s Depends lacks ${regex}: ${depends}")
    endif()
  endforeach()
  message(STATUS "${package}: files and Depends as expected (Depends: ${depends})")
endfunction()

set(runtime libbaton-core${SOVERSION})
set(same "\\(= ${VERSION}\\)")
check(${runtime}
  FILES lib/libbaton_core.so.${SOVERSION}
  DEPENDS "libstdc\\+\\+6")
check(baton
  FILES bin/baton
  DEPENDS "${runtime} ${same}" "libsqlite3-0")
check(libbaton-dev
  FILES include/baton/lock_manager.hpp include/baton/sqlite.hpp include/baton/version.hpp
        lib/libbaton_core.so lib/libbaton_sqlite.a lib/cmake/baton/batonConfig.cmake
        lib/cmake/baton/baton-sqlite-targets.cmake lib/pkgconfig/baton-sqlite.pc
        share/doc/baton/design.md share/doc/baton/writing-a-backend.md
  DEPENDS "${runtime} ${same}" "libsqlite3-dev" "nlohmann-json3-dev")
if(WITH_CONFORMANCE)
  check(libbaton-conformance-dev
    FILES include/baton/conformance.hpp lib/libbaton_conformance.a
          lib/cmake/baton/baton-conformance-targets.cmake share/baton/conformance/src/driver.cpp
    DEPENDS "libbaton-dev ${same}" "catch2")
endif()

# The packages installed into a scratch root (dpkg-deb -x, as dpkg would
# unpack them), and what a user builds against that root: the core+sqlite
# consumer, and the example backend as a plugin that the root's own `baton`
# loads from a config and lists.
if(NOT EXAMPLE_SOURCE_DIR OR NOT CONSUMER_SOURCE_DIR)
  return()
endif()
set(root ${WORK_DIR}/root)
file(GLOB debs ${WORK_DIR}/*.deb)
foreach(deb IN LISTS debs)
  execute_process(COMMAND ${DPKG_DEB} -x ${deb} ${root} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "dpkg-deb -x ${deb} ${root} failed")
  endif()
endforeach()
set(build_args -DCMAKE_PREFIX_PATH=${root}/usr -DCMAKE_BUILD_TYPE=Release)
if(GENERATOR)
  list(APPEND build_args -G ${GENERATOR})
endif()
foreach(project consumer example)
  if(project STREQUAL "consumer")
    set(source ${CONSUMER_SOURCE_DIR})
  else()
    set(source ${EXAMPLE_SOURCE_DIR})
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${source} -B ${WORK_DIR}/${project} ${build_args}
                  RESULT_VARIABLE rc1)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/${project} RESULT_VARIABLE rc2)
  if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
    message(FATAL_ERROR "building ${source} against the packages unpacked in ${root} failed")
  endif()
endforeach()
execute_process(COMMAND ${WORK_DIR}/consumer/sqlite_consumer ${WORK_DIR}/consumer.db RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the consumer built against ${root} failed (${rc})")
endif()
file(WRITE ${WORK_DIR}/flock.json
  "{\"plugins\": [\"${WORK_DIR}/example/libbaton_flock.so\"], \"backend\": \"flock\", \"flock\": {\"dir\": \"${WORK_DIR}/locks\"}}")
execute_process(COMMAND ${root}/usr/bin/baton --config ${WORK_DIR}/flock.json backends
                OUTPUT_VARIABLE listed RESULT_VARIABLE rc1)
execute_process(COMMAND ${root}/usr/bin/baton --config ${WORK_DIR}/flock.json run packaged -- true
                RESULT_VARIABLE rc2)
if(NOT rc1 EQUAL 0 OR NOT listed MATCHES "\"name\":\"flock\"" OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "the unpacked baton did not load the example plugin (${rc1}, ${rc2}):\n${listed}")
endif()
message(STATUS "built the consumer and the example plugin against ${root}; its baton ran the plugin")
