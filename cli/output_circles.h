/* output_circles: the human forms of what samen says of circles: circle new ... retention, device revoke. */
#ifndef SAMEN_OUTPUT_CIRCLES_H
#define SAMEN_OUTPUT_CIRCLES_H

#include <stdio.h>

#include "reply.h"

/*
 * As every output_* form (output.h): borrows its arguments, writes to fp,
 * and prints a body of another shape as JSON.
 */

/* circle new, add, use, role, rm, accept: one line saying what happened. */
void output_circles_new(FILE *fp, const struct reply_node *body);
void output_circles_add(FILE *fp, const struct reply_node *body);
void output_circles_use(FILE *fp, const struct reply_node *body);
void output_circles_role(FILE *fp, const struct reply_node *body);
void output_circles_rm(FILE *fp, const struct reply_node *body);
void output_circles_accept(FILE *fp, const struct reply_node *body);
/* circle quarantine: one line per change set held back. */
void output_circles_quarantine(FILE *fp, const struct reply_node *list);
/* device revoke: "DEVICE revoked in N circles". */
void output_circles_revoke(FILE *fp, const struct reply_node *body);
/* circle ls: a block per circle: name, kind, epoch, then its members. */
void output_circles_ls(FILE *fp, const struct reply_node *list);
/* circle retention: the policy set, or (--due) one line per record. */
void output_circles_retention(FILE *fp, const struct reply_node *body);

#endif
