/* core/server/control.h - "warren -s": signal a running master and report the outcome. */
#ifndef WARREN_CORE_CONTROL_H
#define WARREN_CORE_CONTROL_H

/* Returns the exit code: 0 when @action (stop, quit, reload, reopen) worked. */
int control_run(const char *config_file, const char *action);

#endif /* WARREN_CORE_CONTROL_H */
