// Names berth stamps on what it creates, and the annotations a person sets to steer it: API
// vocabulary, shared by the planner (which renders them) and docker/ (which reads them back).

/**
 * The berth instance (the id in `<state>/instance-id`) that manages the container's project.
 * A berth that finds another instance's stamp on a project leaves it alone (ManagedElsewhere).
 */
export const LABEL_INSTANCE = 'dev.berth.instance';

/**
 * Set on a Stack to the instance id of the berth that manages its project now, to take the
 * project over from it deliberately. Bound to that one instance: once this berth's stamp is
 * on the containers, the annotation no longer matches anything, so two berths reading the
 * same manifest never take the project from each other in turn.
 */
export const ADOPT_ANNOTATION = 'berth.dev/adopt';
