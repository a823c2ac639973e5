#ifndef SNIFF_CNCURSES_SHIM_H
#define SNIFF_CNCURSES_SHIM_H
// ncurses through Debian's libncurses-dev (wide-character build). Attributes and
// colour pairs are macros that Swift cannot import; these functions give them names.
#define _XOPEN_SOURCE_EXTENDED 1
#include <ncurses.h>
#include <locale.h>
#include <langinfo.h>

static inline int sniff_curses_a_bold(void) { return (int)A_BOLD; }
static inline int sniff_curses_a_reverse(void) { return (int)A_REVERSE; }
static inline int sniff_curses_a_dim(void) { return (int)A_DIM; }
static inline int sniff_curses_a_underline(void) { return (int)A_UNDERLINE; }
static inline int sniff_curses_color_pair(int n) { return (int)COLOR_PAIR(n); }
static inline WINDOW *sniff_curses_stdscr(void) { return stdscr; }
/// A screen on the process's standard output and input (globals Swift 6 cannot touch).
static inline SCREEN *sniff_curses_newterm(void) { return newterm(NULL, stdout, stdin); }
#endif
