// glibc's posix_spawn extensions that Swift's Glibc module leaves out (they are declared only
// with _GNU_SOURCE): for the tests' ChildProcess.
#ifndef CUAEFSPAWN_H
#define CUAEFSPAWN_H

#include <spawn.h>

/// posix_spawn_file_actions_addchdir_np: the child starts in `path`.
int uaef_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor from `from` on.
int uaef_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from);

#endif
