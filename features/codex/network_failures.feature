@codex @allure.label.epic:Codex_storage @allure.label.story:Network_failures @use.with_node_control=true
Feature: A Codex network copes with missing data and failing nodes
  As a Codex user
  I want a download to go on when it can and to stop clearly when it cannot
  So that I am never left waiting for data that will not come

  A node looks for a block it lacks round after round (about 3 seconds a round); the number of
  rounds is a node setting, 3000 by default and 2 in these scenarios.

  Scenario: A file nobody holds is given up once the retries are spent
    Given a Codex network of 2 nodes that each try 2 times to find a block
    When Bob asks node B for the manifest of a file nobody stored
    Then node B answers 404 with the message "Error retries exhausted" within 20 seconds

  @critical
  Scenario: A download goes on when one of two holders is lost
    Given a Codex network of 3 nodes that each try 2 times to find a block
    And Alice has uploaded a 200 MiB file to node A
    And Bob has downloaded it from node B through the network stream
    When Carol downloads it from node C through the network stream while node A is killed after 5 MiB
    Then Carol gets an identical SHA-256

  Scenario: A download from a lost sole holder ends short instead of hanging
    Given a Codex network of 2 nodes that each try 2 times to find a block
    And Alice has uploaded a 200 MiB file to node A
    When Bob downloads it from node B through the network stream while node A is killed after 5 MiB
    Then the download ends incomplete within 60 seconds
    And node B still answers

  Scenario: Stored data expires after its time to live
    Given a Codex node "A" that keeps blocks for 2 seconds and checks every 1 second
    When Alice uploads a 100 KiB file to node A
    Then node A does not hold the file within 15 seconds
    And downloading it from node A is refused with status 404 and the message "The requested CID could not be retrieved (Block not found in local store)."
