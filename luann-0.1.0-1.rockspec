-- LuaRocks: `luarocks --lua-version 5.4 make` from the checkout builds with
-- the Makefile (the Debian packages of setup.sh must be there) and installs
-- the module luann.so, the luann executable and the Lua sources.
rockspec_format = "3.0"
package = "luann"
version = "0.1.0-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "A deep learning engine with a C core and Lua 5.4 as its language",
  detailed = [[
Tensors, autograd, neural network layers and optimizers, with a C core (BLIS
on the CPU, and OpenCL), following PyTorch's names and semantics.]],
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "make",
  build_target = "all",
  install_target = "install-rock",
  -- the Makefile sets its own CFLAGS; only the destinations come from LuaRocks
  build_variables = {},
  install_variables = {
    LIBDIR = "$(LIBDIR)",
    LUADIR = "$(LUADIR)",
    BINDIR = "$(BINDIR)",
  },
}
