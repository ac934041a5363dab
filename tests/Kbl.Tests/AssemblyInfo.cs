// One test collection at a time within this test process: on a 2-core machine, collections that each start a
// cluster or several silo processes starve each other (and race for free ports) when several run side by side.
// ./test.sh runs two such processes at once, the in-process clusters (Category=Cluster) beside everything else, then
// the provisioning tests that start silo processes alone.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
