/* zmsg: receiving one whole ZeroMQ message, with a cap on its frames. */
#include "zmsg.h"

int
zmsg_recv(void *sock, zmq_msg_t *frames, int want)
{
	int n = 0, more = 1;

	while (more) {
		zmq_msg_t *f = &frames[n < want ? n : want];

		zmq_msg_init(f);
		if (zmq_msg_recv(f, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(f);
			if (n == 0)
				return 0;
			break;
		}
		more = zmq_msg_more(f);
		if (n >= want)
			zmq_msg_close(f);
		n++;
	}
	if (n > want) {
		for (int i = 0; i < want; i++)
			zmq_msg_close(&frames[i]);
		return -1;
	}
	return n;
}
