/*
** internal.h: LN_INTERNAL, the mark on every name that the library's files
** share but its users may not call (internal; every internal header
** includes it).
**
** libluann.so and luann.so export only what the public headers declare
** (luann_core.h, luann_io.h, luann_nn.h, luann_formats.h, luann.h) and
** luaopen_luann_core.
** Every declaration in an internal header carries LN_INTERNAL, as Lua's
** carry LUAI_FUNC: a host cannot come to depend on an internal name, and
** calls between our own files bind inside the library. A static link
** (libluann.a, the fuzz harnesses) sees every name as before.
*/
#ifndef LUANN_INTERNAL_H
#define LUANN_INTERNAL_H

#if defined(__GNUC__) && defined(__ELF__)
#define LN_INTERNAL __attribute__((visibility("hidden")))
#else
#define LN_INTERNAL
#endif

#endif
