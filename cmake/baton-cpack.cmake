# Debian packages, one per install component (`cpack -G DEB` in the build
# tree): the command, the runtime library, a -dev package (headers, static
# backends, CMake and pkg-config files, docs) and the conformance kit.
set(CPACK_PACKAGE_NAME baton)
set(CPACK_PACKAGE_VENDOR "baton")
set(CPACK_PACKAGE_CONTACT "baton maintainers <baton@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL cli runtime dev)
if(TARGET baton_conformance)
  list(APPEND CPACK_COMPONENTS_ALL conformance)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# The shared libraries' Depends (libc, libstdc++, libsqlite3, libpq,
# libhiredis ...) come from dpkg-shlibdeps; the -dev packages' from the
# lists below, as static libraries and headers have none it can see.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
# The command's libbaton_core is in the runtime package: dpkg-shlibdeps
# finds it in that package's staging directory (a sibling of each
# component's, where it runs) and its generated shlibs file.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ../runtime${CPACK_PACKAGING_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR})
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)

set(_soversion ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libbaton-core${_soversion})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "baton: the core shared library")

set(CPACK_DEBIAN_CLI_PACKAGE_NAME baton)
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION utils)
set(CPACK_COMPONENT_CLI_DEPENDS runtime)
set(CPACK_COMPONENT_CLI_DESCRIPTION "baton: the baton command")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libbaton-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
set(CPACK_COMPONENT_DEV_DESCRIPTION "baton: headers, backends, CMake and pkg-config files")
set(_dev_depends "nlohmann-json3-dev (>= 3.10)" "libsqlite3-dev")
if(BATON_WITH_POSTGRES)
  list(APPEND _dev_depends "libpq-dev" "libssl-dev")
endif()
if(BATON_WITH_REDIS)
  list(APPEND _dev_depends "libhiredis-dev")
endif()
list(JOIN _dev_depends ", " CPACK_DEBIAN_DEV_PACKAGE_DEPENDS)

set(CPACK_DEBIAN_CONFORMANCE_PACKAGE_NAME libbaton-conformance-dev)
set(CPACK_DEBIAN_CONFORMANCE_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_CONFORMANCE_DEPENDS dev)
set(CPACK_COMPONENT_CONFORMANCE_DESCRIPTION "baton: the conformance suite for backend authors")
set(CPACK_DEBIAN_CONFORMANCE_PACKAGE_DEPENDS "catch2 (>= 2.13), catch2 (<< 3)")

include(CPack)
