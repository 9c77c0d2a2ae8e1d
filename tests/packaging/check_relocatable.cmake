# The installed CMake and pkg-config files must name no path of the machine
# that built them (the build tree, the install prefix, /usr/lib...): a
# package's files are used elsewhere.
#   cmake -DBATON_BUILD_DIR=... -DWORK_DIR=... -P check_relocatable.cmake
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(install ${CMAKE_COMMAND} --install ${BATON_BUILD_DIR} --prefix ${prefix})
file(GLOB libdirs LIST_DIRECTORIES true ${prefix}/lib*)
set(dirs "")
foreach(dir IN LISTS libdirs)
  foreach(sub cmake pkgconfig)
    if(IS_DIRECTORY ${dir}/${sub})
      list(APPEND dirs ${dir}/${sub})
    endif()
  endforeach()
endforeach()
if(NOT dirs)
  message(FATAL_ERROR "no lib*/cmake or lib*/pkgconfig under ${prefix}")
endif()
execute_process(COMMAND grep -rn -e /usr/ -e /work -e /home/ -e /tmp/ -e ${prefix} -e ${BATON_BUILD_DIR} ${dirs}
                RESULT_VARIABLE rc OUTPUT_VARIABLE hits)
if(rc EQUAL 0)
  message(FATAL_ERROR "absolute paths in the installed package files:\n${hits}")
elseif(NOT rc EQUAL 1)
  message(FATAL_ERROR "grep failed (${rc})")
endif()
message(STATUS "no absolute path in ${dirs}")
