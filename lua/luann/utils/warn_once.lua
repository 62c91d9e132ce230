--- utils.warn_once: a warning a user should see once, on stderr as
-- `luann warning: <msg>`, each key once per process. Lua's own warn() is
-- silent unless the interpreter runs with -W, so a newcomer would never see
-- it; these warn about code that runs but does not do what was meant.
-- @usage warn_once("MyNet.layers", "MyNet.layers is a plain table ...")
local seen = {}

--- Writes msg to stderr unless a warning with this key was written already.
-- @param key what the warning is about (a class and field name, ...)
-- @param msg the text
-- @return true when written now
return function(key, msg)
  if seen[key] then return false end
  seen[key] = true
  io.stderr:write("luann warning: ", msg, "\n")
  return true
end
