/*
 * rfb-nop - the program the spawn workloads execute: linked statically (no
 * dynamic loader, no shared libraries to open), it exits at once, so a
 * spawn measures process creation, exec and the permission events of one
 * binary and nothing else.
 */
int main(void)
{
	return 0;
}
