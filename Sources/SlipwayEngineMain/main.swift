import Foundation
import SlipwayServer

exit(await SlipwayServer.main(arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
