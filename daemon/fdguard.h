/* fdguard: accept(2) that survives running out of file descriptors. */
#ifndef SAMEN_FDGUARD_H
#define SAMEN_FDGUARD_H

/*
 * libzmq 4.3.4 aborts samend when accept(2) on the control socket fails
 * with EMFILE ("Too many open files (src/ipc_listener.cpp:325)"), and on
 * the peers' TCP socket it retries the same pending connection at once,
 * for ever, at full CPU.  fdguard defines accept4() and accept() in
 * samend itself, so that libzmq's calls land here (an executable's
 * definition comes first): when the process is out of descriptors, it
 * closes a spare one kept open for this, accepts the oldest pending
 * connection, closes it at once (the client sees the connection closed:
 * samen exits 3), opens the spare again and reports ECONNABORTED, which
 * libzmq takes in its stride.  The spare is opened before main() (a
 * constructor), so there is no call to make; samend keeps serving, and
 * accepts again as soon as descriptors are free.
 */

/* Connections refused so since start. */
unsigned long fdguard_refused(void);

#endif
