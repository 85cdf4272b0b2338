/* zmsg: receiving one whole ZeroMQ message, with a cap on its frames. */
#ifndef SAMEN_ZMSG_H
#define SAMEN_ZMSG_H

#include <zmq.h>

/* Messages taken per readable callback: the loop's other work gets its turn. */
#define ZMSG_BATCH 64

/*
 * Receives one whole message of at most want frames from sock, without
 * waiting, into frames[0..want] (want + 1 of them: the extra one is
 * scratch).  Returns the frame count, whose frames the caller closes; 0 if
 * nothing was waiting; or -1 for a message with more frames than want,
 * dropped whole (nothing to close).
 */
int zmsg_recv(void *sock, zmq_msg_t *frames, int want);

#endif
