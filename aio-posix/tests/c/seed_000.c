#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main() {
  struct aiocb cb;
  int fd;
  char buffer[1024];

  fd = open("testfile.txt", O_RDONLY);
  if (fd < 0) {
    perror("open");
    return 1;
  }

  memset(&cb, 0, sizeof(struct aiocb));
  cb.aio_fildes = fd;
  cb.aio_offset = 0;
  cb.aio_buf = buffer;
  cb.aio_nbytes = 1024;
  cb.aio_sigevent.sigev_notify = SIGEV_NONE;

  int ret = aio_read(&cb);
  if (ret < 0) {
    perror("aio_read");
    close(fd);
    return 1;
  }

  // Continue processing without waiting for the read to complete
  printf("Asynchronous read initiated...\n");

  // Later, check for completion
  while (aio_error(&cb) == EINPROGRESS) {
    // Do other work
    printf("Waiting for AIO to complete...\n");
  }

  int bytes_read = aio_return(&cb);
  if (bytes_read > 0) {
    printf("Bytes read: %d\n", bytes_read);
    printf("Data: %.*s\n", bytes_read, buffer);
  } else {
    perror("aio_return");
  }

  close(fd);
  return 0;
}
