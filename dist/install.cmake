# Run by cmake --install (CMakeLists.txt sets REFNET_* first): writes the
# files that name installed paths, for the prefix the install runs with,
# and installs them.
#
#   refnet.pc         to <libdir>/pkgconfig
#   refnet.service    to <prefix>/lib/systemd/system (REFNET_UNITDIR)
#   refnet.default    to <sysconfdir>/default/refnet, unless one is there:
#                     an administrator's settings survive a reinstall
#
# file(INSTALL) honours DESTDIR and records each file in
# install_manifest.txt, which `make uninstall` reads.

# An install directory as an absolute path: dir itself if absolute, else
# under the prefix.
function(refnet_full out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

set(prefix "${CMAKE_INSTALL_PREFIX}")
refnet_full(libdir "${REFNET_LIBDIR}")
refnet_full(includedir "${REFNET_INCLUDEDIR}")
refnet_full(bindir "${REFNET_BINDIR}")
refnet_full(unitdir "${REFNET_UNITDIR}")
# As GNUInstallDirs has it: a /usr install reads its settings from /etc.
if(NOT IS_ABSOLUTE "${REFNET_SYSCONFDIR}" AND prefix MATCHES "^/usr/?$")
  set(sysconfdir "/${REFNET_SYSCONFDIR}")
else()
  refnet_full(sysconfdir "${REFNET_SYSCONFDIR}")
endif()

# In refnet.pc, a path under the prefix is written relative to ${prefix},
# so that pkg-config --define-variable=prefix=... moves them all.
function(refnet_pc out path)
  string(LENGTH "${prefix}/" n)
  string(SUBSTRING "${path}" 0 ${n} head)
  if(head STREQUAL "${prefix}/")
    string(SUBSTRING "${path}" ${n} -1 tail)
    set(${out} "\${prefix}/${tail}" PARENT_SCOPE)
  else()
    set(${out} "${path}" PARENT_SCOPE)
  endif()
endfunction()
refnet_pc(pc_libdir "${libdir}")
refnet_pc(pc_includedir "${includedir}")

configure_file("${REFNET_DIST}/refnet.pc.in" "${REFNET_GEN}/refnet.pc" @ONLY)
configure_file("${REFNET_DIST}/refnet.service.in" "${REFNET_GEN}/refnet.service" @ONLY)

file(INSTALL DESTINATION "${libdir}/pkgconfig" TYPE FILE FILES "${REFNET_GEN}/refnet.pc")
file(INSTALL DESTINATION "${unitdir}" TYPE FILE FILES "${REFNET_GEN}/refnet.service")
if(EXISTS "$ENV{DESTDIR}${sysconfdir}/default/refnet")
  message(STATUS "Keeping: $ENV{DESTDIR}${sysconfdir}/default/refnet")
else()
  file(INSTALL DESTINATION "${sysconfdir}/default" TYPE FILE
       RENAME refnet FILES "${REFNET_DIST}/refnet.default")
endif()
