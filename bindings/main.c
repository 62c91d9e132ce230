/*
** main.c: the `luann` executable, a Lua 5.4 interpreter with luann loaded.
**
**   luann [options] [script [args]]
**
** It behaves like lua5.4 (same options, same `arg` table, same REPL rules)
** with the global `luann` already there. The REPL uses GNU readline when
** stdin is a terminal: line editing, a history file and tab completion of
** Lua names; Ctrl-C clears the line at the prompt and stops running code.
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "luann.h"

#define PROMPT "> "
#define PROMPT2 ">> "
#define HISTORY_LINES 1000

static const char *progname = "luann";
static lua_State *globalL = NULL; /* for the SIGINT handler */

/* ---- messages -------------------------------------------------------- */

static void print_usage(const char *badoption) {
  if (badoption[1] == 'e' || badoption[1] == 'l')
    fprintf(stderr, "%s: '%s' needs argument\n", progname, badoption);
  else
    fprintf(stderr, "%s: unrecognized option '%s'\n", progname, badoption);
  fprintf(stderr,
          "usage: %s [options] [script [args]]\n"
          "Available options are:\n"
          "  -e stat   execute string 'stat'\n"
          "  -i        enter interactive mode after executing 'script'\n"
          "  -l mod    require library 'mod' into global 'mod'\n"
          "  -l g=mod  require library 'mod' into global 'g'\n"
          "  -v        show version information\n"
          "  -W        turn warnings on\n"
          "  --        stop handling options\n"
          "  -         stop handling options and execute stdin\n",
          progname);
}

static void print_version(void) {
  printf("luann %s (%s)\n", LN_VERSION, LUA_RELEASE);
  fflush(stdout);
}

/* The REPL clears progname so its errors read like lua5.4's. */
static void message(const char *msg) {
  if (progname != NULL)
    fprintf(stderr, "%s: ", progname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

/* Prints the error message at the top of the stack, if status is one. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    message(msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* Message handler: turns any error value into a string with a traceback. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1; /* an error object that prints itself: no traceback */
    msg = lua_pushfstring(L, "(error object is a %s value)",
                          luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* ---- running code ---------------------------------------------------- */

/* Ctrl-C while Lua code runs: stop it at the next hook with an error. */
static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void laction(int sig) {
  int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
  signal(sig, SIG_DFL); /* a second Ctrl-C kills the process */
  lua_sethook(globalL, lstop, flag, 1);
}

/* Calls the function below narg arguments under the message handler. */
static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  globalL = L;
  signal(SIGINT, laction);
  int status = lua_pcall(L, narg, nres, base);
  signal(SIGINT, SIG_DFL);
  lua_remove(L, base);
  return status;
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK)
    status = docall(L, 0, 0);
  return report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l g=mod or -l mod: global g (or mod) = require(mod). */
static int dolibrary(lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *modname = eq ? eq + 1 : spec;
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  int status = docall(L, 1, 1);
  if (status == LUA_OK) {
    if (eq)
      lua_pushlstring(L, spec, (size_t)(eq - spec));
    else
      lua_pushstring(L, spec);
    lua_insert(L, -2);
    lua_setglobal(L, lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  return report(L, status);
}

/* Pushes arg[1..n] as the script's `...`. */
static int push_args(lua_State *L) {
  if (lua_getglobal(L, "arg") != LUA_TTABLE)
    luaL_error(L, "'arg' is not a table");
  int n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  int i;
  for (i = 1; i <= n; i++)
    lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}

/* Runs argv[0] as a script ("-" alone is stdin, unless after "--"). */
static int handle_script(lua_State *L, char **argv) {
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
    fname = NULL;
  int status = luaL_loadfile(L, fname);
  if (status == LUA_OK)
    status = docall(L, push_args(L), LUA_MULTRET);
  return report(L, status);
}

/* ---- options --------------------------------------------------------- */

enum { HAS_ERROR = 1, HAS_I = 2, HAS_V = 4, HAS_E = 8 };

/* Scans the options; *first becomes the index of the script (or argc),
** or of the bad option when HAS_ERROR is returned. */
static int collect_args(char **argv, int *first) {
  int args = 0, i;
  for (i = 1; argv[i] != NULL; i++) {
    *first = i;
    const char *a = argv[i];
    if (a[0] != '-')
      return args; /* the script */
    switch (a[1]) {
    case '-': /* "--" */
      if (a[2] != '\0')
        return HAS_ERROR;
      *first = i + 1;
      return args;
    case '\0': /* "-": the script is stdin */
      return args;
    case 'W':
      if (a[2] != '\0')
        return HAS_ERROR;
      break;
    case 'i':
      args |= HAS_I; /* -i implies -v, as in lua5.4 */
      /* fall through */
    case 'v':
      if (a[2] != '\0')
        return HAS_ERROR;
      args |= HAS_V;
      break;
    case 'e':
      args |= HAS_E;
      /* fall through */
    case 'l': /* both take an argument, joined ("-lmod") or next */
      if (a[2] == '\0' && argv[++i] == NULL)
        return HAS_ERROR;
      break;
    default:
      return HAS_ERROR;
    }
  }
  *first = i;
  return args;
}

/* Runs -e, -l and -W in order; 0 when one fails. */
static int run_args(lua_State *L, char **argv, int n) {
  for (int i = 1; i < n; i++) {
    char option = argv[i][1];
    if (option == 'W') {
      lua_warning(L, "@on", 0);
    } else if (option == 'e' || option == 'l') {
      const char *extra = argv[i][2] != '\0' ? argv[i] + 2 : argv[++i];
      int status = option == 'e' ? dostring(L, extra, "=(command line)")
                                 : dolibrary(L, extra);
      if (status != LUA_OK)
        return 0;
    }
  }
  return 1;
}

/* arg[0] is the script, arg[1..] its arguments, arg[-1..] what came before
** (the interpreter and options). Without a script, arg[0] is the
** interpreter. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  if (script == argc)
    script = 0;
  lua_createtable(L, argc - script - 1, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* ---- reading lines --------------------------------------------------- */

enum { LINE_OK, LINE_EOF, LINE_INTERRUPTED };

static char *got_text;
static int got_line;
static volatile sig_atomic_t got_sigint;

static void on_line(char *line) {
  got_text = line;
  got_line = 1;
  rl_callback_handler_remove();
}

static void on_sigint(int sig) {
  (void)sig;
  got_sigint = 1;
}

/* Forgets a half-typed line and gives the terminal back. */
static void drop_line(void) {
  rl_free_line_state();
  rl_callback_sigcleanup();
  rl_cleanup_after_signal();
  rl_callback_handler_remove();
}

/* Readline's callback interface lets Ctrl-C at the prompt drop the line
** (and a half-typed chunk) instead of killing the process, which may hold
** a model still being trained. SIGINT stays blocked except inside pselect,
** so a Ctrl-C cannot slip between the check and the wait. */
static int readline_tty(const char *prompt, char **line) {
  struct sigaction sa, old_sa;
  sigset_t block, orig;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_sa);
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &orig);
  got_text = NULL;
  got_line = 0;
  got_sigint = 0;
  rl_callback_handler_install(prompt, on_line);
  int fd = fileno(rl_instream);
  while (!got_line && !got_sigint) {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(fd, &fds);
    int n = pselect(fd + 1, &fds, NULL, NULL, NULL, &orig);
    if (n > 0)
      rl_callback_read_char();
    else if (n < 0 && errno != EINTR)
      break; /* the terminal went away: end of input */
  }
  int status = got_line && got_text ? LINE_OK : LINE_EOF;
  if (!got_line) {
    drop_line();
    if (got_sigint) {
      status = LINE_INTERRUPTED;
      fputs("\n", stdout);
    }
  }
  sigprocmask(SIG_SETMASK, &orig, NULL);
  sigaction(SIGINT, &old_sa, NULL);
  *line = got_text;
  return status;
}

/* Without a terminal: the prompt on stdout and a plain read. */
static int readline_plain(const char *prompt, char **line) {
  size_t cap = 0;
  fputs(prompt, stdout);
  fflush(stdout);
  *line = NULL;
  ssize_t n = getline(line, &cap, stdin);
  if (n < 0) {
    free(*line);
    *line = NULL;
    return LINE_EOF;
  }
  if (n > 0 && (*line)[n - 1] == '\n')
    (*line)[n - 1] = '\0';
  return LINE_OK;
}

static int use_readline; /* stdin is a terminal */

/* _PROMPT and _PROMPT2 override the prompts, as in lua5.4. */
static const char *get_prompt(lua_State *L, int firstline) {
  lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2");
  const char *p = lua_tostring(L, -1);
  lua_pop(L, 1); /* the string stays alive in the global */
  return p ? p : firstline ? PROMPT : PROMPT2;
}

/* Reads one line onto the stack; a first line "=x" becomes "return x". */
static int push_line(lua_State *L, int firstline) {
  char *line;
  const char *prompt = get_prompt(L, firstline);
  int status = use_readline ? readline_tty(prompt, &line)
                            : readline_plain(prompt, &line);
  if (status != LINE_OK)
    return status;
  if (use_readline && line[0] != '\0') {
    HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
    if (last == NULL || strcmp(last->line, line) != 0)
      add_history(line);
  }
  if (firstline && line[0] == '=')
    lua_pushfstring(L, "return %s", line + 1);
  else
    lua_pushstring(L, line);
  free(line);
  return LINE_OK;
}

/* ---- the REPL -------------------------------------------------------- */

/* luann.repl (lua/luann/repl.lua), the REPL's Lua half: compiling lines so
** that their top-level locals last, printing values, completing names. A
** registry reference, or LUA_NOREF when it failed to load (the REPL then
** works as lua5.4's does). */
static int repl_ref = LUA_NOREF;

/* Pushes field `name` of luann.repl; 0 (nothing pushed) without it. */
static int repl_function(lua_State *L, const char *name) {
  if (repl_ref == LUA_NOREF)
    return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, repl_ref);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
  if (lua_isfunction(L, -1))
    return 1;
  lua_pop(L, 1);
  return 0;
}

/* Compiles code like luaL_loadbuffer (the function or the error message on
** the stack, and the status), through luann.repl.load when it is there. */
static int repl_loadbuffer(lua_State *L, const char *code, size_t len) {
  if (!repl_function(L, "load"))
    return luaL_loadbuffer(L, code, len, "=stdin");
  lua_pushlstring(L, code, len);
  lua_pushliteral(L, "=stdin");
  if (lua_pcall(L, 2, 2, 0) != LUA_OK)
    return LUA_ERRSYNTAX; /* its message is on the stack */
  if (lua_isfunction(L, -2)) {
    lua_pop(L, 1);
    return LUA_OK;
  }
  lua_remove(L, -2);
  return LUA_ERRSYNTAX;
}

/* A syntax error that ends at <eof> means the chunk needs more lines. */
static int incomplete(lua_State *L, int status) {
  if (status != LUA_ERRSYNTAX)
    return 0;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  static const char mark[] = "<eof>";
  size_t mlen = sizeof mark - 1;
  return len >= mlen && strcmp(msg + len - mlen, mark) == 0;
}

/* Tries the line at the top as an expression ("return " .. line). */
static int try_expression(lua_State *L) {
  const char *code = lua_pushfstring(L, "return %s;", lua_tostring(L, -1));
  int status = repl_loadbuffer(L, code, strlen(code));
  if (status == LUA_OK)
    lua_remove(L, -2); /* keep the function only */
  else
    lua_pop(L, 2);
  return status;
}

enum { CHUNK_EOF = -1, CHUNK_INTERRUPTED = -2 };

/* Reads lines until they form a complete chunk; leaves its function or
** its error message on the stack and returns the load status. */
static int read_chunk(lua_State *L) {
  int r = push_line(L, 1);
  if (r != LINE_OK)
    return r == LINE_EOF ? CHUNK_EOF : CHUNK_INTERRUPTED;
  if (try_expression(L) == LUA_OK) {
    lua_remove(L, -2); /* the line */
    return LUA_OK;
  }
  for (;;) {
    size_t len;
    const char *code = lua_tolstring(L, -1, &len);
    int status = repl_loadbuffer(L, code, len);
    if (!incomplete(L, status)) {
      lua_remove(L, -2);
      return status;
    }
    r = push_line(L, 0);
    if (r != LINE_OK) {
      lua_remove(L, -2); /* the code; its error message stays */
      if (r == LINE_EOF)
        return status; /* reported: the chunk ended unfinished */
      lua_pop(L, 1);
      return CHUNK_INTERRUPTED;
    }
    lua_remove(L, -2); /* the error message */
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

/* Prints every value on the stack, tab separated: with luann.repl.repr
** (tables as their contents), else with tostring. */
static int print_values(lua_State *L) {
  int n = lua_gettop(L);
  int has_repr = repl_function(L, "repr");
  int repr = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    size_t len;
    const char *s;
    if (has_repr) {
      lua_pushvalue(L, repr);
      lua_pushvalue(L, i);
      lua_call(L, 1, 1);
      s = lua_tolstring(L, -1, &len);
      if (s == NULL) {
        lua_pop(L, 1);
        s = luaL_tolstring(L, i, &len);
      }
    } else {
      s = luaL_tolstring(L, i, &len);
    }
    if (i > 1)
      fputc('\t', stdout);
    fwrite(s, 1, len, stdout);
    lua_pop(L, 1);
  }
  fputc('\n', stdout);
  fflush(stdout);
  return 0;
}

static void print_results(lua_State *L) {
  int n = lua_gettop(L);
  if (n == 0)
    return;
  luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
  lua_pushcfunction(L, print_values);
  lua_insert(L, 1);
  if (lua_pcall(L, n, 0, 0) != LUA_OK)
    message(lua_pushfstring(L, "error calling 'print' (%s)",
                            lua_tostring(L, -1)));
}

/* ---- history and completion ------------------------------------------ */

static char history_path[4096];

/* ~/.luann_history, or $LUANN_HISTORY ("" turns the file off). Failures to
** read or write it are silent: a REPL without history still works. */
static void history_open(void) {
  const char *env = getenv("LUANN_HISTORY");
  const char *home = getenv("HOME");
  history_path[0] = '\0';
  if (env != NULL)
    snprintf(history_path, sizeof history_path, "%s", env);
  else if (home != NULL && home[0] != '\0')
    snprintf(history_path, sizeof history_path, "%s/.luann_history", home);
  using_history();
  stifle_history(HISTORY_LINES);
  if (history_path[0] != '\0')
    read_history(history_path);
}

static void history_close(void) {
  if (history_path[0] != '\0')
    write_history(history_path);
}

static lua_State *completion_L;

/* Appends prefix..key to the list at out for each string key of the table
** at obj that starts with word. */
static void add_keys(lua_State *L, int obj, int out, const char *prefix,
                     size_t plen, const char *word, size_t wlen) {
  lua_pushnil(L);
  while (lua_next(L, obj) != 0) {
    size_t klen = 0;
    const char *k = NULL;
    if (lua_type(L, -2) == LUA_TSTRING)
      k = lua_tolstring(L, -2, &klen);
    if (k != NULL && klen >= wlen && strncmp(k, word, wlen) == 0) {
      lua_pushlstring(L, prefix, plen);
      lua_pushvalue(L, -3);
      lua_concat(L, 2);
      lua_rawseti(L, out, (lua_Integer)lua_rawlen(L, out) + 1);
    }
    lua_pop(L, 1);
  }
}

/* Completions of text ("na", "luann.ze", "t:su"): the keys of the table the
** dotted path names, plus its methods: those of its metatable's __index
** table, or, when __index is a function (tensors), of the metatable's
** `methods` table. Runs under pcall: the lookups may call metamethods. */
static int collect_completions(lua_State *L) {
  if (repl_function(L, "complete")) { /* the class chains, module fields */
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
  }
  const char *text = lua_tostring(L, 1);
  const char *word = text, *sep;
  lua_newtable(L); /* 2: the results */
  lua_pushglobaltable(L);
  while ((sep = strpbrk(word, ".:")) != NULL) {
    lua_pushlstring(L, word, (size_t)(sep - word));
    lua_gettable(L, -2);
    lua_remove(L, -2);
    word = sep + 1;
  }
  int obj = lua_gettop(L);
  size_t plen = (size_t)(word - text), wlen = strlen(word);
  if (lua_type(L, obj) == LUA_TTABLE)
    add_keys(L, obj, 2, text, plen, word, wlen);
  if (lua_getmetatable(L, obj)) {
    int meta = lua_gettop(L);
    if (lua_getfield(L, meta, "__index") == LUA_TTABLE)
      add_keys(L, meta + 1, 2, text, plen, word, wlen);
    else if (lua_type(L, -1) == LUA_TFUNCTION &&
             lua_getfield(L, meta, "methods") == LUA_TTABLE)
      add_keys(L, lua_gettop(L), 2, text, plen, word, wlen);
  }
  lua_settop(L, 2);
  return 1;
}

static char *next_completion(const char *text, int state) {
  static lua_Integer i;
  (void)text;
  if (state == 0)
    i = 0;
  lua_State *L = completion_L;
  char *s = NULL;
  if (lua_rawgeti(L, -1, ++i) == LUA_TSTRING)
    s = strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  return s;
}

static char **complete(const char *text, int start, int end) {
  (void)start;
  (void)end;
  lua_State *L = completion_L;
  int top = lua_gettop(L);
  char **matches = NULL;
  rl_attempted_completion_over = 1; /* never fall back to file names */
  rl_completion_append_character = '\0';
  lua_pushcfunction(L, collect_completions);
  lua_pushstring(L, text);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_rawlen(L, -1) > 0)
    matches = rl_completion_matches(text, next_completion);
  lua_settop(L, top);
  return matches;
}

/* ---- the REPL loop --------------------------------------------------- */

static int open_repl_module(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luann.repl");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "install"); /* the global help() */
  lua_call(L, 0, 0);
  return 1;
}

/* Loads luann.repl; on failure says why and goes on without it. */
static void repl_open(lua_State *L) {
  if (repl_ref != LUA_NOREF)
    return;
  lua_pushcfunction(L, open_repl_module);
  if (lua_pcall(L, 0, 1, 0) == LUA_OK)
    repl_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  else
    report(L, LUA_ERRRUN);
}

static void do_repl(lua_State *L) {
  const char *oldprogname = progname;
  progname = NULL;
  use_readline = isatty(STDIN_FILENO);
  if (use_readline) {
    rl_readline_name = "luann";
    rl_catch_signals = 0;
    completion_L = L;
    rl_attempted_completion_function = complete;
    rl_completer_word_break_characters = " \t\n\"\\'`@$><=;|&{(+-*/%^~#,[]}";
    history_open();
  }
  lua_settop(L, 0);
  repl_open(L);
  for (;;) {
    int status = read_chunk(L);
    if (status == CHUNK_EOF)
      break;
    if (status == CHUNK_INTERRUPTED)
      continue;
    if (status == LUA_OK)
      status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK)
      print_results(L);
    else
      report(L, status);
    lua_settop(L, 0);
  }
  lua_settop(L, 0);
  fputs("\n", stdout);
  fflush(stdout);
  if (use_readline)
    history_close();
  progname = oldprogname;
}

/* ---- main ------------------------------------------------------------ */

/* Puts the executable's folder first in package.cpath: C modules built
** beside it (luann_mpi.so, for luann.distributed) load without set-up. */
static void add_own_folder_to_cpath(lua_State *L) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return; /* not Linux, or no /proc: the default cpath stays */
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return;
  *slash = '\0';
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "cpath");
  lua_pushfstring(L, "%s/?.so;%s", exe, lua_tostring(L, -1));
  lua_setfield(L, -3, "cpath");
  lua_pop(L, 2);
}

static int open_libraries(lua_State *L) {
  luaL_openlibs(L);
  add_own_folder_to_cpath(L);
  luaL_requiref(L, "luann", luaopen_luann, 1); /* global and package.loaded */
  lua_pop(L, 1);
  return 0;
}

/* Everything runs here, under lua_pcall, so no error escapes unreported. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script = argc;
  int args = collect_args(argv, &script);
  luaL_checkversion(L);
  if (args == HAS_ERROR) {
    print_usage(argv[script]);
    return 0;
  }
  if (args & HAS_V)
    print_version();
  open_libraries(L);
  create_arg_table(L, argv, argc, script);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);
  if (!run_args(L, argv, script))
    return 0;
  if (script < argc && handle_script(L, argv + script) != LUA_OK)
    return 0;
  if (args & HAS_I) {
    do_repl(L);
  } else if (script == argc && !(args & (HAS_E | HAS_V))) {
    if (isatty(STDIN_FILENO)) {
      print_version();
      do_repl(L);
    } else if (dochunk(L, luaL_loadfile(L, NULL)) != LUA_OK) {
      return 0;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

int main(int argc, char **argv) {
  if (argv[0] != NULL && argv[0][0] != '\0')
    progname = argv[0];
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    message("cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_gc(L, LUA_GCSTOP); /* no collections while starting up */
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  int ok = lua_toboolean(L, -1);
  report(L, status);
  lua_close(L);
  return ok && status == LUA_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}
