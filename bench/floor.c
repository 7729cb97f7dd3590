/* omnicache-floor SOCKET KEY: the least a whole `get` command can cost. It
 * connects, sends one get frame built with snprintf (no JSON library, no C++
 * runtime, no hello, no configuration), reads the one reply, writes a found
 * value to stdout and exits: 0 for a hit, 1 for a miss, 2 for bad usage, 3
 * when no daemon answers, 4 for an error reply (as the omnicache command). */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void
put_u32be(unsigned char* at, uint32_t value)
{
  at[0] = (unsigned char)(value >> 24);
  at[1] = (unsigned char)(value >> 16);
  at[2] = (unsigned char)(value >> 8);
  at[3] = (unsigned char)value;
}

static uint32_t
get_u32be(const unsigned char* at)
{
  return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | (uint32_t)at[3];
}

static int
read_exact(int fd, unsigned char* data, size_t n)
{
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, data + got, n - got);
    if (r <= 0) {
      return -1;
    }
    got += (size_t)r;
  }
  return 0;
}

int
main(int argc, char** argv)
{
  if (argc != 3) {
    fprintf(stderr, "usage: omnicache-floor SOCKET KEY\n");
    return 2;
  }
  const char* path = argv[1];
  const char* key = argv[2];
  /* The key goes into the JSON header as is: refuse what would need escaping. */
  for (const char* c = key; *c; ++c) {
    if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) {
      fprintf(stderr, "omnicache-floor: the key must need no JSON escaping\n");
      return 2;
    }
  }
  unsigned char frame[8 + 4200];
  int header = snprintf((char*)frame + 8, sizeof frame - 8, "{\"id\":1,\"op\":\"get\",\"key\":\"%s\"}", key);
  if (header < 0 || (size_t)header >= sizeof frame - 8) {
    fprintf(stderr, "omnicache-floor: key too long\n");
    return 2;
  }
  put_u32be(frame, (uint32_t)header + 4);
  put_u32be(frame + 4, (uint32_t)header);

  struct sockaddr_un address;
  memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof address.sun_path) {
    fprintf(stderr, "omnicache-floor: socket path too long\n");
    return 2;
  }
  strcpy(address.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (const struct sockaddr*)&address, sizeof address) != 0) {
    perror("omnicache-floor: connect");
    return 3;
  }
  size_t length = (size_t)header + 8;
  if (send(fd, frame, length, MSG_NOSIGNAL) != (ssize_t)length) {
    perror("omnicache-floor: send");
    return 3;
  }
  unsigned char prefix[4];
  if (read_exact(fd, prefix, sizeof prefix) != 0) {
    fprintf(stderr, "omnicache-floor: no reply\n");
    return 3;
  }
  uint32_t body_length = get_u32be(prefix);
  unsigned char* body = malloc(body_length);
  if (body == NULL || body_length < 4 || read_exact(fd, body, body_length) != 0) {
    fprintf(stderr, "omnicache-floor: short reply\n");
    return 3;
  }
  close(fd);
  uint32_t header_length = get_u32be(body);
  if (header_length > body_length - 4) {
    fprintf(stderr, "omnicache-floor: malformed reply\n");
    return 3;
  }
  const char* reply = (const char*)body + 4;
  if (memmem(reply, header_length, "\"ok\":true", 9) == NULL) {
    fprintf(stderr, "omnicache-floor: %.*s\n", (int)header_length, reply);
    return 4;
  }
  if (memmem(reply, header_length, "\"found\":true", 12) == NULL) {
    return 1;
  }
  fwrite(reply + header_length, 1, body_length - 4 - header_length, stdout);
  return 0;
}
