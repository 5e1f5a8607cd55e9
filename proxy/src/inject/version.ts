/**
 * The lameduck version the injector stamps on what it injects (`lameduck.io/injected`) and uses as the default image
 * tag. Kept equal to package.json's version and the library chart's appVersion (a unit test holds the three together):
 * the default image is then the one the library chart would render.
 */
export const LAMEDUCK_VERSION = '0.1.0';
