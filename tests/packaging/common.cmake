cmake_minimum_required(VERSION 3.25)
# Shared by the packaging test scripts: checks the -D arguments, runs
# commands, and installs the build tree into a scratch prefix that is then
# moved, so every test also proves the install tree relocatable.
foreach(var BATON_BUILD_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "${CMAKE_SCRIPT_MODE_FILE}: -D${var}=... is required")
  endif()
endforeach()

# run(<step> <command>...): fails the test unless the command succeeds.
function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${step} failed (${rc}): ${ARGN}")
  endif()
endfunction()

# install_moved(<var>): installs into WORK_DIR/installed, moves that to
# WORK_DIR/prefix and sets <var> to the latter.
function(install_moved var)
  file(REMOVE_RECURSE ${WORK_DIR})
  file(MAKE_DIRECTORY ${WORK_DIR})
  run(install ${CMAKE_COMMAND} --install ${BATON_BUILD_DIR} --prefix ${WORK_DIR}/installed)
  file(RENAME ${WORK_DIR}/installed ${WORK_DIR}/prefix)
  set(${var} ${WORK_DIR}/prefix PARENT_SCOPE)
endfunction()
