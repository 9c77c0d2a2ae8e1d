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
