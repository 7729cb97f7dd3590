# What `cmake --install` puts where, beyond what each folder installs itself
# (the programs, man pages, completions and systemd units), and the .deb that
# CPack makes from the same rules:
#
#   cmake --install build/release --prefix ~/.local
#   cd build/release && cpack -G DEB        # omnicache_<version>_<arch>.deb

install(FILES README.md protocol/PROTOCOL.md docs/config.toml DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples USE_SOURCE_PERMISSIONS)

set(CPACK_PACKAGE_NAME omnicache)
set(CPACK_PACKAGE_VENDOR "omnicache")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "local cache for AI and LLM pipelines")
set(CPACK_PACKAGE_DESCRIPTION
    "omnicache keeps LLM answers, embeddings, retrieval results and the output of wrapped commands in a
per-user daemon (omnicached) with a SQLite database, so that a pipeline does not pay twice for the same
work. It matches questions asked in other words, invalidates by tag, dependency, model or pattern,
serves OpenAI and Anthropic calls through a caching HTTP proxy, and can share a Redis tier.")
set(CPACK_PACKAGE_CONTACT "omnicache maintainers <maintainers@omnicache.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_INSTALL_DIRECTORY omnicache)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps (dpkg-dev) finds the shared libraries the programs need and
# writes the Depends line: no list of ours to fall out of step.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-server")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
