# Defines the IMPORTED target hiredis::hiredis (the name hiredis 1.x's own
# CMake package uses) and sets baton_hiredis_FOUND. Used by the build and by
# the installed batonConfig.cmake, so the installed baton::redis names the
# target, never a library path of the machine that built it. hiredis 0.14
# ships no CMake package: then the header and library are found directly.
if(NOT TARGET hiredis::hiredis)
  find_package(hiredis CONFIG QUIET)
endif()
if(NOT TARGET hiredis::hiredis)
  find_path(BATON_HIREDIS_INCLUDE_DIR hiredis/hiredis.h)
  find_library(BATON_HIREDIS_LIBRARY hiredis)
  mark_as_advanced(BATON_HIREDIS_INCLUDE_DIR BATON_HIREDIS_LIBRARY)
  if(BATON_HIREDIS_INCLUDE_DIR AND BATON_HIREDIS_LIBRARY)
    add_library(hiredis::hiredis UNKNOWN IMPORTED)
    set_target_properties(hiredis::hiredis PROPERTIES
      IMPORTED_LOCATION "${BATON_HIREDIS_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${BATON_HIREDIS_INCLUDE_DIR}")
  endif()
endif()
if(TARGET hiredis::hiredis)
  set(baton_hiredis_FOUND TRUE)
else()
  set(baton_hiredis_FOUND FALSE)
endif()
