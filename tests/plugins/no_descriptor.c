/* tests/plugins/no_descriptor.c - a shared object that is not a warren module at all. */
int not_a_module(void);

int not_a_module(void)
{
	return 42;
}
