// SPDX-License-Identifier: BSD-2-Clause
/* weft_cgroup_ids on every cgroup path shape weft knows, and on near misses. */
#include <stdio.h>
#include <string.h>
#include "container.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
#define UID_ "1f2e3d4c_5b6a_4978_8695_a4b3c2d1e0f9"

static const struct {
	const char *path, *cid, *pod;
} cases[] = {
    /* containerd, systemd driver: besteffort, burstable, guaranteed */
    {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
     ".slice/cri-containerd-" ID ".scope",
     ID, UID},
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
     ".slice/cri-containerd-" ID ".scope",
     ID, UID},
    {"/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope", ID, UID},
    /* CRI-O, systemd driver */
    {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/crio-" ID
     ".scope",
     ID, UID},
    /* cgroupfs driver (containerd or CRI-O) */
    {"/kubepods/besteffort/pod" UID "/" ID, ID, UID},
    {"/kubepods/pod" UID "/" ID, ID, UID},
    /* Docker, systemd and cgroupfs drivers */
    {"/system.slice/docker-" ID ".scope", ID, ""},
    {"/docker/" ID, ID, ""},
    /* nested under a test or kind node cgroup */
    {"/weft-test/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
     ".slice/cri-containerd-" ID ".scope",
     ID, UID},
    /* a pod's own cgroup: pod, no container */
    {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice", "", UID},
    /* not containers */
    {"/", "", ""},
    {"/user.slice/user-0.slice/session-1.scope", "", ""},
    {"/system.slice/ssh.service", "", ""},
    {"/system.slice/docker-0123.scope", "", ""},	   /* too short */
    {"/system.slice/docker-" ID "0.scope", "", ""},	   /* 65 hex */
    {"/system.slice/dockerx" ID ".scope", "", ""},	   /* no dash */
    {"/kubepods/besteffort/pod1f2e3d4c-5b6a/" ID, ID, ""}, /* short uid */
    {"/kubepods/besteffort/xpod" UID "/" ID, ID, ""},	   /* not "pod" */
};

int main(void)
{
	int fails = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char cid[65], pod[37];

		weft_cgroup_ids(cases[i].path, cid, pod);
		if (strcmp(cid, cases[i].cid) || strcmp(pod, cases[i].pod)) {
			printf("FAIL %s: container.id '%s' (want '%s'), k8s.pod.uid '%s' (want "
			       "'%s')\n",
			       cases[i].path, cid, cases[i].cid, pod, cases[i].pod);
			fails++;
		}
	}
	printf("%zu cgroup paths, %d failures\n", sizeof(cases) / sizeof(cases[0]), fails);
	return fails != 0;
}
