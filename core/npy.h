/*
** npy.h: the .npy parser, shared by the .npy and .npz readers (internal).
*/
#ifndef LUANN_NPY_H
#define LUANN_NPY_H

#include "mapped_file.h"

/* The array m holds as a .npy file. Messages read "<op>: <file>: ..." or,
** for a member of an archive, "<op>: <file>: <member>: ...". */
LN_INTERNAL ln_tensor *ln_npy_parse(ln_mapping *m, const char *op,
                                    const char *member);

#endif
