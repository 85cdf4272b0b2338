/* fdguard: accept(2) that survives running out of file descriptors. */
#define _GNU_SOURCE		/* accept4 */
#include "fdguard.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int spare = -1;		/* under mu */
static atomic_ulong refused;

static void fdguard_spare(void) __attribute__((constructor));

static void
fdguard_spare(void)
{
	if (spare == -1)
		spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* accept4(2) itself, past whatever else defines it. */
static int
sys_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	return (int)syscall(SYS_accept4, fd, addr, len, flags);
}

int
accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int s, err;
	unsigned long n;

	s = sys_accept4(fd, addr, len, flags);
	if (s != -1 || (errno != EMFILE && errno != ENFILE))
		return s;
	err = errno;
	pthread_mutex_lock(&mu);
	if (spare != -1) {
		close(spare);
		spare = -1;
		if ((s = sys_accept4(fd, NULL, NULL, SOCK_CLOEXEC)) != -1)
			close(s);
		fdguard_spare();
	}
	pthread_mutex_unlock(&mu);
	if (s == -1) {
		errno = err;	/* nothing taken off the queue */
		return -1;
	}
	n = atomic_fetch_add(&refused, 1) + 1;
	if (n == 1 || n % 1000 == 0)
		log_warnx("out of file descriptors (%s): refused a connection "
		    "(%lu so far)", err == EMFILE ? "this process" :
		    "the system", n);
	errno = ECONNABORTED;
	return -1;
}

int
accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return accept4(fd, addr, len, 0);
}

unsigned long
fdguard_refused(void)
{
	return atomic_load(&refused);
}
